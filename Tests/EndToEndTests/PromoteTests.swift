import Foundation
import MregTestSupport
import Testing

@Suite(.serialized) struct PromoteTests {
    /// A registry with penguins v1 (complete card) and v2 (incomplete card).
    func setUp(_ dir: TempDir) -> String {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        #expect(mreg(["card", "penguins@v1", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--algorithm", "gbdt", "--param", "max_iter=10"], in: reg).status == 0)
        return reg
    }

    @Test func promotionBranchHasOneCommitWithTrailersAndLeavesTheWorkingTreeAlone() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        let main = git(["rev-parse", "main"], in: reg).stdout
        let r = mreg(["promote", "penguins@v1", "--to", "staging", "--json"], in: reg)
        #expect(r.status == 0, "\(r.stderr)")
        let out = json(r.stdout)
        #expect(out["branch"] as? String == "promote/penguins-v1-staging")
        #expect(out["title"] as? String == "Promote penguins v1 to staging")
        #expect((out["body"] as? String)?.contains("### Gates of staging") == true)
        #expect(git(["rev-parse", "main"], in: reg).stdout == main)
        #expect(git(["rev-list", "--count", "main..promote/penguins-v1-staging"], in: reg).stdout == "1")
        #expect(git(["rev-parse", "promote/penguins-v1-staging~1"], in: reg).stdout == main)
        #expect(git(["diff", "--name-only", "main", "promote/penguins-v1-staging"], in: reg).stdout == "deploy/staging.yaml")
        let body = git(["log", "-1", "--format=%B", "promote/penguins-v1-staging"], in: reg).stdout
        #expect(body.contains("Mreg-Model: penguins\nMreg-Version: v1\nMreg-Environment: staging\nMreg-Previous: none"))
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(try String(contentsOfFile: reg + "/deploy/staging.yaml", encoding: .utf8).contains("models: {}"))
        // A retry replaces the branch an earlier attempt at the same change left behind.
        let again = mreg(["promote", "penguins@v1", "--to", "staging"], in: reg)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(git(["rev-list", "--count", "main..promote/penguins-v1-staging"], in: reg).stdout == "1")
        // A branch of the same name that is something else is never touched.
        git(["branch", "-f", "mine", "main"], in: reg)
        let other = mreg(["promote", "penguins@v1", "--to", "staging", "--branch", "mine"], in: reg)
        #expect(other.status == 2 && other.stderr.contains("already exists"), "\(other.stderr)")
        #expect(git(["fsck", "--strict"], in: reg).status == 0)
    }

    @Test func gatesPromotionOrderForceCanaryAndRollback() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        // Production only from a version staging has served.
        let refused = mreg(["promote", "penguins@v1", "--to", "production"], in: reg)
        #expect(refused.status == 1)
        #expect(refused.stdout == "gate 'promote from staging' failed: staging has never served v1 on main\n")
        #expect(mreg(["promote", "penguins@v1", "--to", "staging", "--merge"], in: reg).status == 0)
        #expect(mreg(["promote", "penguins@v1", "--to", "production", "--merge"], in: reg).status == 0)
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(try String(contentsOfFile: reg + "/deploy/production.yaml", encoding: .utf8).contains("version: v1"))
        // v2's card is incomplete: refused with one line per failure; --force needs a reason and is recorded.
        #expect(mreg(["promote", "penguins@v2", "--to", "staging", "--merge"], in: reg).status == 0)
        let v2 = mreg(["promote", "penguins@v2", "--to", "production", "--canary", "10"], in: reg)
        #expect(v2.status == 1)
        #expect(v2.stdout.contains("gate 'card-complete' failed"))
        #expect(mreg(["promote", "penguins@v2", "--to", "production", "--force"], in: reg).status == 2)
        // Production refuses force unless its policy allows it.
        let noForce = mreg(["promote", "penguins@v2", "--to", "production", "--canary", "10", "--force", "--reason", "trial run"], in: reg)
        #expect(noForce.status == 1)
        #expect(noForce.stdout.contains("gate 'force' failed: production does not allow forced changes"), "\(noForce.stdout)")
        allowForce(in: reg)
        let forced = mreg(["promote", "penguins@v2", "--to", "production", "--canary", "10", "--force", "--reason", "trial run", "--merge"], in: reg)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(git(["log", "-1", "--format=%B", "main"], in: reg).stdout.contains("Mreg-Forced: trial run"))
        #expect(git(["log", "-1", "--format=%s", "main"], in: reg).stdout == "Canary penguins v2 at 10% in production")
        let status = json(mreg(["status", "--env", "production", "--json"], in: reg).stdout)
        let models = ((status["environments"] as? [[String: Any]])?.first?["models"] as? [[String: Any]]) ?? []
        let deployment = models.first?["deployment"] as? [String: Any]
        #expect(deployment?["version"] as? String == "v1")
        #expect((deployment?["canary"] as? [String: Any])?["weight"] as? Int == 10)
        // Completing the rollout: the same version without --canary.
        let complete = mreg(["promote", "penguins@v2", "--to", "production", "--force", "--reason", "looks fine", "--merge"], in: reg)
        #expect(complete.status == 0)
        #expect(git(["log", "-1", "--format=%s", "main"], in: reg).stdout == "Complete the rollout of penguins v2 in production")
        #expect(mreg(["show", "penguins@production", "--json"], in: reg).stdout.contains("\"version\": \"v2\""))
        // Rollback goes back to what production served before, found in main's history.
        let rb = mreg(["rollback", "penguins", "--env", "production", "--merge"], in: reg)
        #expect(rb.status == 0, "\(rb.stderr)")
        #expect(git(["log", "-1", "--format=%s", "main"], in: reg).stdout == "Roll back penguins in production to v1")
        #expect(git(["log", "-1", "--format=%B", "main"], in: reg).stdout.contains("Mreg-Previous: v2\n"))
        #expect(mreg(["history", "penguins"], in: reg).stdout.contains("production: v2 -> v1"))
        #expect(mreg(["rollback", "penguins", "--env", "production", "--to", "v9"], in: reg).stderr.contains("has no version 'v9'"))
        #expect(mreg(["verify"], in: reg).status == 0)
    }

    @Test func pushesTheBranchToARemote() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        let remote = dir.sub("remote.git")
        git(["init", "-q", "--bare", remote], in: dir.path)
        git(["remote", "add", "origin", "file://" + remote], in: reg)
        git(["push", "-q", "origin", "main"], in: reg)
        let r = mreg(["promote", "penguins@v1", "--to", "staging", "--push"], in: reg)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Pushed promote/penguins-v1-staging to file://\(remote)"))
        #expect(git(["--git-dir", remote, "rev-parse", "promote/penguins-v1-staging"], in: dir.path).stdout
            == git(["rev-parse", "promote/penguins-v1-staging"], in: reg).stdout)
        #expect(git(["--git-dir", remote, "rev-parse", "main"], in: dir.path).stdout == git(["rev-parse", "main"], in: reg).stdout)
        // The Git host merges the pull request; status reads it after a pull.
        git(["--git-dir", remote, "update-ref", "refs/heads/main", "promote/penguins-v1-staging"], in: dir.path)
        git(["pull", "-q", "--ff-only", "origin", "main"], in: reg)
        #expect(mreg(["status", "--env", "staging"], in: reg).stdout.contains("penguins  v1"))
        // --merge --push sends main; a remote that is not there fails clearly, with nothing lost locally.
        let merged = mreg(["promote", "penguins@v1", "--to", "production", "--merge", "--push", "origin"], in: reg)
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(git(["--git-dir", remote, "rev-parse", "main"], in: dir.path).stdout == git(["rev-parse", "main"], in: reg).stdout)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV], in: reg).status == 0)
        let down = mreg(["promote", "penguins@v3", "--to", "staging", "--push", "git://127.0.0.1:1/nothing.git"], in: reg)
        #expect(down.status == 2 && down.isOneLineError, "\(down.stderr)")
        // Nothing half-done is left: the branch is gone and the retry starts clean.
        #expect(git(["rev-parse", "--verify", "-q", "promote/penguins-v3-staging"], in: reg).status != 0)
        let retry = mreg(["promote", "penguins@v3", "--to", "staging", "--push"], in: reg)
        #expect(retry.status == 0, "\(retry.stderr)")
    }

    @Test func invalidManifestIsReportedAndNotBuiltOn() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        dir.write("reg/deploy/staging.yaml", "schemaVersion: 1\nenvironment: staging\nmodels:\n  penguins: {version: v1, weight: 3}\n")
        git(["commit", "-qam", "hand edit"], in: reg)
        let r = mreg(["promote", "penguins@v1", "--to", "staging", "--force", "--reason", "x"], in: reg)
        #expect(r.status == 2)
        #expect(r.stderr == "mreg: error: deploy/staging.yaml: field 'models.penguins.weight' is not a known field\n")
        #expect(git(["branch", "--list", "promote/*"], in: reg).stdout == "")
    }

    @Test func racingMergesBothLand() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        #expect(mreg(["train", "other", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            results.add(mreg(["promote", i == 0 ? "penguins@v1" : "other@v1", "--to", "staging", "--merge"], in: reg))
        }
        for r in results.all {
            #expect(r.status == 0 || r.stderr.contains("main moved, run again"), "\(r.stderr)")
        }
        let landed = results.all.filter { $0.status == 0 }.count
        let staging = git(["show", "main:deploy/staging.yaml"], in: reg).stdout
        #expect(staging.contains("penguins:") == (landed == 2 || results.all[0].status == 0 || staging.contains("penguins:")))
        // Never a lost change: every promotion that reported success is in main's manifest.
        #expect(staging.components(separatedBy: "version: v1").count - 1 == landed)
        #expect(landed == 2, "both should land: \(results.all.map(\.stderr))")
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(git(["fsck", "--strict"], in: reg).status == 0)
    }

    @Test func statusAndHistoryFollowAPullRequestMergedByGit() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        #expect(mreg(["promote", "penguins@v1", "--to", "staging"], in: reg).status == 0)
        // The Git host merges the pull request with a merge commit.
        git(["merge", "-q", "--no-ff", "-m", "Merge pull request #7 from promote/penguins-v1-staging", "promote/penguins-v1-staging"], in: reg)
        let s = mreg(["status", "--env", "staging"], in: reg)
        #expect(s.stdout.contains("staging      penguins  v1"), "\(s.stdout)")
        let since = git(["rev-parse", "--short=12", "HEAD"], in: reg).stdout
        #expect(s.stdout.contains(since))
        #expect(mreg(["history", "penguins"], in: reg).stdout.contains("staging: none -> v1"))
        // Squash-merged next promotion.
        #expect(mreg(["promote", "penguins@v2", "--to", "staging"], in: reg).status == 0)
        git(["merge", "-q", "--squash", "promote/penguins-v2-staging"], in: reg)
        git(["commit", "-qm", "Promote penguins v2 to staging (#8)"], in: reg)
        #expect(mreg(["status", "--json"], in: reg).stdout.contains("Promote penguins v2 to staging (#8)"))
        let rb = mreg(["rollback", "penguins", "--env", "staging", "--json"], in: reg)
        #expect(rb.stdout.contains("\"next\": \"v1\""), "\(rb.stderr)")
        #expect(rb.stdout.contains("\"branch\": \"rollback/penguins-v1-staging\""))
    }
}

/// Lets production pass forced changes (`allowForce: true`), committed on main.
func allowForce(in reg: String) {
    let path = reg + "/mreg.yaml"
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    try? text.replacingOccurrences(of: "  - name: production\n", with: "  - name: production\n    allowForce: true\n")
        .write(toFile: path, atomically: true, encoding: .utf8)
    git(["commit", "-qam", "Allow forced changes in production"], in: reg)
}
