import Foundation
import MregCore
import MregTestSupport
import Testing

/// The gate holds in the checkouts CI systems make, for every way a manifest changes.
@Suite(.serialized) struct GateTests {
    /// A registry pushed to a bare `origin`: penguins v1 (accuracy 0.941) serves staging and
    /// production; v2 (0.874, complete card) serves staging. Returns (registry, origin).
    func setUp(_ dir: TempDir) -> (reg: String, origin: String) {
        let reg = dir.sub("reg"), origin = dir.sub("origin.git")
        git(["init", "-q", "--bare", origin], in: dir.path)
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        git(["remote", "add", "origin", origin], in: reg)
        for (n, accuracy) in [(1, 0.941), (2, 0.874)] {
            let from = dir.sub("build\(n)")
            dir.write("build\(n)/model.bin", "weights \(n)\n")
            dir.write("metrics\(n).json", #"{"test": {"accuracy": \#(accuracy)}, "validation": {"accuracy": \#(accuracy + 0.01)}}"#)
            let r = mreg(["register", "penguins", "--from", from, "--metrics", dir.sub("metrics\(n).json")], in: reg)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(mreg(["card", "penguins@v\(n)", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        }
        for (version, env) in [("v1", "staging"), ("v1", "production"), ("v2", "staging")] {
            let p = mreg(["promote", "penguins@\(version)", "--to", env, "--merge"], in: reg)
            #expect(p.status == 0, "\(p.stderr)")
        }
        git(["push", "-q", "origin", "main"], in: reg)
        return (reg, origin)
    }

    /// A pull request from `branch` of `reg`, pushed to origin as `refs/pull/1/head`, and the merge
    /// commit a Git host makes for it as `refs/pull/1/merge`.
    func openPullRequest(_ dir: TempDir, reg: String, origin: String, branch: String) {
        git(["push", "-q", "origin", "\(branch):refs/pull/1/head"], in: reg)
        let host = dir.sub("host")
        git(["clone", "-q", origin, host], in: dir.path)
        git(["fetch", "-q", "origin", "refs/pull/1/head"], in: host)
        git(["checkout", "-q", "--detach", "origin/main"], in: host)
        #expect(git(["merge", "-q", "--no-ff", "-m", "Merge pull request #1", "FETCH_HEAD"], in: host).status == 0)
        git(["push", "-q", "origin", "HEAD:refs/pull/1/merge"], in: host)
    }

    /// A hand edit on a branch that puts v2 (worse than v1) into production.
    func handEditProduction(_ dir: TempDir, reg: String, message: String = "serve v2 in production") {
        git(["checkout", "-q", "-b", "pr"], in: reg)
        dir.write("reg/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins: {version: v2}\n")
        git(["commit", "-qam", message], in: reg)
        git(["checkout", "-q", "main"], in: reg)
    }

    /// A fresh checkout: `refs` fetched from origin (with `depth` when shallow), HEAD detached at `head`.
    func checkout(_ dir: TempDir, _ name: String, origin: String, refs: [String], head: String, depth: Int? = nil) -> String {
        let ci = dir.sub(name)
        git(["init", "-q", ci], in: dir.path)
        git(["remote", "add", "origin", "file://" + origin], in: ci)
        #expect(git(["fetch", "-q"] + (depth.map { ["--depth=\($0)"] } ?? []) + ["origin"] + refs, in: ci).status == 0)
        #expect(git(["checkout", "-q", "--detach", head], in: ci).status == 0)
        return ci
    }

    @Test func gitHubPullRequestCheckoutFailsTheChampionRule() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, origin) = setUp(dir)
        handEditProduction(dir, reg: reg)
        openPullRequest(dir, reg: reg, origin: origin, branch: "pr")
        // actions/checkout with fetch-depth: 0: every branch as origin/*, the merge commit detached, no local main.
        let ci = checkout(dir, "gh-full", origin: origin,
                          refs: ["+refs/heads/*:refs/remotes/origin/*", "+refs/pull/1/merge:refs/remotes/pull/1/merge"],
                          head: "refs/remotes/pull/1/merge")
        #expect(git(["branch", "--list", "main"], in: ci).stdout == "")
        let status = mreg(["status", "--env", "production", "--json"], in: ci)
        #expect(status.stdout.contains("\"version\": \"v1\""), "status reads main from origin/main, not the pull request: \(status.stdout)")
        for base in [["--base", "origin/main"], []] {
            let r = mreg(["evaluate", "--changed", "--format", "json"] + base, in: ci)
            #expect(r.status == 1, "\(base): \(r.stdout) \(r.stderr)")
            #expect(r.stdout.contains("accuracy drop vs champion"), "\(r.stdout)")
            #expect(r.stdout.contains("\"version\": \"v1\""), "the champion is what main serves")
        }
        // The same with the CI template's shallow variant: only the merge commit, then main at depth 1.
        let shallow = checkout(dir, "gh-shallow", origin: origin, refs: ["+refs/pull/1/merge:refs/remotes/pull/1/merge"],
                               head: "refs/remotes/pull/1/merge", depth: 1)
        let lost = mreg(["evaluate", "--changed"], in: shallow)
        #expect(lost.status == 2 && lost.isOneLineError, "\(lost.stderr)")
        #expect(lost.stderr.contains("git fetch origin main"), "the error says what to fetch: \(lost.stderr)")
        #expect(git(["fetch", "-q", "--depth=1", "origin", "+refs/heads/main:refs/remotes/origin/main"], in: shallow).status == 0)
        let judged = mreg(["evaluate", "--changed", "--format", "json"], in: shallow)
        #expect(judged.status == 1, "\(judged.stdout) \(judged.stderr)")
        #expect(judged.stdout.contains("accuracy drop vs champion"), "\(judged.stdout)")
    }

    @Test func gitLabMergeRequestCheckoutFailsTheChampionRule() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, origin) = setUp(dir)
        handEditProduction(dir, reg: reg)
        git(["push", "-q", "origin", "pr"], in: reg)
        // GitLab CI: the branch's own head detached, the target branch fetched by the template.
        for depth in [nil, 2] {
            let ci = checkout(dir, "gl-\(depth ?? 0)", origin: origin,
                              refs: ["+refs/heads/pr:refs/remotes/origin/pr", "+refs/heads/main:refs/remotes/origin/main"],
                              head: "refs/remotes/origin/pr", depth: depth)
            let r = mreg(["evaluate", "--changed", "--base", "origin/main", "--format", "json"], in: ci,
                         environment: ["CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"])
            #expect(r.status == 1, "depth \(depth ?? 0): \(r.stdout) \(r.stderr)")
            #expect(r.stdout.contains("accuracy drop vs champion"), "\(r.stdout)")
        }
    }

    @Test func handEditsArePromotionsAndForceNeedsTrailerAndPolicy() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, _) = setUp(dir)
        // v3 staging never served, put into production by hand: refused by promotion order.
        dir.write("build3/model.bin", "weights 3\n")
        dir.write("metrics3.json", #"{"accuracy": 0.96}"#)
        #expect(mreg(["register", "penguins", "--from", dir.sub("build3"), "--metrics", dir.sub("metrics3.json")], in: reg).status == 0)
        #expect(mreg(["card", "penguins@v3", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        git(["checkout", "-q", "-b", "skip"], in: reg)
        dir.write("reg/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins: {version: v3}\n")
        git(["commit", "-qam", "skip staging"], in: reg)
        let skipped = mreg(["evaluate", "--changed", "--base", "main"], in: reg)
        #expect(skipped.status == 1)
        #expect(skipped.stdout.contains("staging has never served v3"), "\(skipped.stdout)")
        // The forced trailer alone does not pass production, whose policy refuses force by default...
        git(["commit", "-q", "--amend", "-m", "skip staging\n\nMreg-Forced: incident 42 hotfix\n"], in: reg)
        let refused = mreg(["evaluate", "--changed", "--base", "main"], in: reg)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("production does not allow forced changes"), "\(refused.stdout)")
        // ...and passes where the policy allows it, shown as forced in the report and in history.
        git(["checkout", "-q", "main"], in: reg)
        allowForce(in: reg)
        git(["checkout", "-q", "skip"], in: reg)
        #expect(git(["rebase", "-q", "main"], in: reg).status == 0)
        let forced = mreg(["evaluate", "--changed", "--base", "main"], in: reg)
        #expect(forced.status == 0, "\(forced.stdout)")
        #expect(forced.stdout.contains("waived: forced: incident 42 hotfix"), "\(forced.stdout)")
        git(["checkout", "-q", "main"], in: reg)
        #expect(git(["merge", "-q", "--no-ff", "-m", "Merge skip", "skip"], in: reg).status == 0)
        #expect(mreg(["history", "penguins"], in: reg).stdout.contains("production: v1 -> v3 (FORCED: incident 42 hotfix)"))
        // A rollback to a version production never served is a promotion like any other.
        let rb = mreg(["rollback", "penguins", "--env", "production", "--to", "v2"], in: reg)
        #expect(rb.status == 1, "\(rb.stdout) \(rb.stderr)")
        #expect(rb.stdout.contains("accuracy drop vs champion"), "\(rb.stdout)")
        // Back to v1, which it served: only integrity blocks.
        #expect(mreg(["rollback", "penguins", "--env", "production", "--to", "v1", "--merge"], in: reg).status == 0)
        #expect(mreg(["verify"], in: reg).status == 0)
    }

    @Test func versionsFromConcurrentBranchesNeverCollide() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (_, origin) = setUp(dir)
        var clones = [String]()
        for who in ["alice", "bob"] {
            let clone = dir.sub(who)
            git(["clone", "-q", origin, clone], in: dir.path)
            git(["checkout", "-q", "-b", "train-\(who)"], in: clone)
            let r = mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "-m", who], in: clone)
            #expect(r.status == 0, "\(r.stderr)")
            git(["push", "-q", "origin", "train-\(who)"], in: clone)
            clones.append(clone)
        }
        let alice = git(["show", "--name-only", "--format=", "origin/train-alice"], in: clones[0]).stdout
        let bob = git(["show", "--name-only", "--format=", "origin/train-bob"], in: clones[1]).stdout
        #expect(alice.contains("models/penguins/v3/version.yaml") && bob.contains("models/penguins/v4/version.yaml"), "\(alice)\n\(bob)")
        for (how, order) in [("merge", ["alice", "bob"]), ("merge", ["bob", "alice"]), ("squash", ["bob", "alice"]), ("rebase", ["alice", "bob"])] {
            let merger = dir.sub("\(how)-" + order.joined())
            git(["clone", "-q", origin, merger], in: dir.path)
            for who in order {
                switch how {
                case "merge":
                    let m = git(["merge", "--no-ff", "-m", "Merge \(who)", "origin/train-\(who)"], in: merger)
                    #expect(m.status == 0, "\(order): \(m.stdout) \(m.stderr)")
                case "squash":
                    let m = git(["merge", "--squash", "origin/train-\(who)"], in: merger)
                    #expect(m.status == 0, "\(order): \(m.stdout) \(m.stderr)")
                    git(["commit", "-qm", "Squashed \(who)"], in: merger)
                default:
                    // The branch rebased onto main as it is now, then fast-forwarded.
                    git(["checkout", "-q", "-b", "r-\(who)", "origin/train-\(who)"], in: merger)
                    let r = git(["rebase", "-q", "main"], in: merger)
                    #expect(r.status == 0, "\(order): \(r.stdout) \(r.stderr)")
                    git(["checkout", "-q", "main"], in: merger)
                    #expect(git(["merge", "-q", "--ff-only", "r-\(who)"], in: merger).status == 0)
                }
            }
            let versions = git(["ls-tree", "--name-only", "HEAD", "models/penguins/"], in: merger).stdout
            #expect(versions.contains("models/penguins/v3") && versions.contains("models/penguins/v4"), "\(how) \(order): \(versions)")
            #expect(mreg(["verify"], in: merger).status == 0)
            #expect(git(["fsck", "--strict"], in: merger).status == 0)
            let list = json(mreg(["show", "penguins@v4", "--json"], in: merger).stdout)
            #expect(list["version"] as? String == "v4" || (list["record"] as? [String: Any])?["version"] as? String == "v4")
        }
    }

    @Test func initNeverCommitsIntoARepositoryItDidNotCreate() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let outer = dir.sub("project")
        git(["init", "-q", outer], in: dir.path)
        dir.write("project/README.md", "code\n")
        git(["add", "."], in: outer)
        git(["commit", "-qm", "code"], in: outer)
        let head = git(["rev-parse", "HEAD"], in: outer).stdout
        let refused = mreg(["init", "registry"], in: outer)
        #expect(refused.status == 2 && refused.isOneLineError)
        #expect(refused.stderr.contains("is inside the Git repository at") && refused.stderr.contains("--new-repository") && refused.stderr.contains("--subfolder"))
        #expect(!FileManager.default.fileExists(atPath: outer + "/registry"))
        // A repository of its own.
        #expect(mreg(["init", "own", "--new-repository"], in: outer).status == 0)
        #expect(git(["rev-parse", "HEAD"], in: outer).stdout == head)
        #expect(git(["rev-list", "--count", "HEAD"], in: outer + "/own").stdout == "1")
        // Monorepo mode: the CI file at the root, on the registry folder, and the reconciler's --path.
        let mono = mreg(["init", "ml/registry", "--subfolder", "--ci", "gitlab"], in: outer)
        #expect(mono.status == 0, "\(mono.stderr)")
        #expect(git(["show", "--name-only", "--format=", "HEAD"], in: outer).stdout.split(separator: "\n").contains(".gitlab-ci.yml"))
        #expect(try String(contentsOfFile: outer + "/.gitlab-ci.yml", encoding: .utf8).contains("MREG_REGISTRY: \"ml/registry\""))
        // The repository's root is itself fine (a fresh clone of an empty project, say).
        let empty = dir.sub("empty")
        git(["init", "-q", empty], in: dir.path)
        #expect(mreg(["init", "."], in: empty).status == 0)
        // mainBranch follows the branch the registry starts on.
        let master = dir.sub("master")
        git(["-c", "init.defaultBranch=master", "init", "-q", master], in: dir.path)
        #expect(mreg(["init", "."], in: master).status == 0)
        #expect(try String(contentsOfFile: master + "/mreg.yaml", encoding: .utf8).contains("\nmainBranch: master\n"))
        #expect(mreg(["status"], in: master).status == 0)
    }

    @Test func quickstartInsideACheckoutLeavesItUntouched() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let clone = dir.sub("clone")
        git(["init", "-q", clone], in: dir.path)
        dir.write("clone/.gitignore", "/mreg-quickstart/\n")
        git(["add", "."], in: clone)
        git(["commit", "-qm", "project"], in: clone)
        let head = git(["rev-parse", "HEAD"], in: clone).stdout
        let r = mreg(["quickstart"], in: clone)
        #expect(r.status == 0, "\(r.stdout.suffix(2000)) \(r.stderr)")
        #expect(git(["rev-parse", "HEAD"], in: clone).stdout == head)
        #expect(git(["status", "--porcelain"], in: clone).stdout == "")
        #expect(git(["rev-parse", "--show-toplevel"], in: clone + "/mreg-quickstart/registry").stdout.hasSuffix("/mreg-quickstart/registry"))
    }

    @Test func failuresUnderJSONAreJSONAndPromotionsRetryCleanly() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, _) = setUp(dir)
        let refused = mreg(["promote", "penguins@v2", "--to", "production", "--json"], in: reg)
        #expect(refused.status == 1)
        let doc = json(refused.stdout)
        #expect(doc["exitCode"] as? Int == 1)
        #expect((doc["gates"] as? [[String: Any]])?.contains { ($0["rule"] as? String)?.contains("drop vs champion") == true } == true, "\(refused.stdout)")
        let unknown = mreg(["show", "ghost@v1", "--json"], in: reg)
        #expect(unknown.status == 2 && json(unknown.stdout)["exitCode"] as? Int == 2 && (json(unknown.stdout)["error"] as? String)?.contains("ghost") == true)
        // A refused push leaves no branch behind; a dirty tree at --merge neither.
        let down = mreg(["promote", "penguins@v1", "--to", "staging", "--canary", "20", "--push", "git://127.0.0.1:1/none.git"], in: reg)
        #expect(down.status == 2)
        #expect(git(["branch", "--list", "promote/*"], in: reg).stdout == "")
        dir.write("reg/deploy/staging.yaml", "dirty\n")
        let dirty = mreg(["promote", "penguins@v1", "--to", "staging", "--merge"], in: reg)
        #expect(dirty.status != 0)
        #expect(git(["branch", "--list", "promote/*"], in: reg).stdout == "")
        git(["checkout", "--", "deploy/staging.yaml"], in: reg)
    }

    /// A release archive as scripts/release.sh lays it out, of the binary under test, and its sha256.
    func releaseArchive(_ dir: TempDir) throws -> (url: String, sha256: String) {
        let stage = dir.sub("stage/mreg-test")
        try FileManager.default.createDirectory(atPath: stage, withIntermediateDirectories: true)
        let bin = (mregBinary as NSString).deletingLastPathComponent
        try FileManager.default.copyItem(atPath: mregBinary, toPath: stage + "/mreg")
        try FileManager.default.copyItem(atPath: bin + "/mreg_MregTemplates.resources", toPath: stage + "/mreg_MregTemplates.resources")
        #expect(run("tar", ["-I", "gzip -1", "-cf", dir.sub("mreg.tar.gz"), "-C", dir.sub("stage"), "mreg-test"]).status == 0)
        let sum = run("sha256sum", [dir.sub("mreg.tar.gz")]).stdout.split(separator: " ").first.map(String.init) ?? ""
        return ("file://" + dir.sub("mreg.tar.gz"), sum)
    }

    /// A clean environment like a CI container's: no variables of this machine, `apt-get` a no-op
    /// (the packages are here), a home and temporary folder of its own.
    func cleanEnvironment(_ dir: TempDir, release: (url: String, sha256: String)) -> [String: String] {
        let stub = dir.write("stub/apt-get", "#!/bin/sh\nexit 0\n")
        chmod(stub, 0o755)
        for sub in ["home", "tmp"] { try? FileManager.default.createDirectory(atPath: dir.sub(sub), withIntermediateDirectories: true) }
        return [
            "PATH": dir.sub("stub") + ":/usr/local/bin:/usr/bin:/bin", "HOME": dir.sub("home"), "TMPDIR": dir.sub("tmp"),
            "MREG_RELEASE_URL": release.url, "MREG_RELEASE_SHA256": release.sha256, "MREG_HOME": dir.sub("opt/mreg"),
            "MREG_REGISTRY": ".",
        ]
    }

    /// Runs shell steps in order the way a CI runner does; returns each step's exit status.
    func runSteps(_ steps: [(name: String, script: String, env: [String: String])], in cwd: String, env: [String: String],
                  pathFile: String? = nil) -> [Int32] {
        var statuses = [Int32]()
        for step in steps {
            var e = env.merging(step.env) { _, new in new }
            if let pathFile, let extra = try? String(contentsOfFile: pathFile, encoding: .utf8) {
                e["PATH"] = extra.split(separator: "\n").reversed().joined(separator: ":") + ":" + e["PATH"]!
            }
            let r = run("/usr/bin/env", ["-i"] + e.map { "\($0.key)=\($0.value)" } + ["sh", "-e", "-c", step.script], cwd: cwd)
            if r.status != 0 && r.status != 1 { Issue.record("step '\(step.name)' exited \(r.status): \(r.stdout.suffix(1500)) \(r.stderr.suffix(1500))") }
            statuses.append(r.status)
        }
        return statuses
    }

    @Test func theGitHubTemplateGatesAPullRequestInACleanEnvironment() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, origin) = setUp(dir)
        handEditProduction(dir, reg: reg)
        openPullRequest(dir, reg: reg, origin: origin, branch: "pr")
        let ci = checkout(dir, "gh", origin: origin,
                          refs: ["+refs/heads/*:refs/remotes/origin/*", "+refs/pull/1/merge:refs/remotes/pull/1/merge"],
                          head: "refs/remotes/pull/1/merge")
        let workflow = try YAML.parse(try String(contentsOfFile: ReadmeTests.root + "/templates/files/ci/github-actions.yml", encoding: .utf8), file: "mreg.yml")
        let release = try releaseArchive(dir)
        let expressions = [
            "${{ github.event_name }}": "pull_request", "${{ github.base_ref }}": "main", "${{ github.event.before }}": "",
            "${{ vars.MREG_RELEASE_URL }}": release.url, "${{ vars.MREG_RELEASE_SHA256 }}": release.sha256,
            "${{ vars.MREG_GIT_URL }}": "", "${{ vars.MREG_REF }}": "",
        ]
        func expand(_ text: String) -> String {
            var out = text
            for (k, v) in expressions { out = out.replacingOccurrences(of: k, with: v) }
            #expect(!out.contains("${{"), "an expression the test does not know: \(out)")
            return out
        }
        var env = cleanEnvironment(dir, release: release)
        for (k, v) in workflow["env"]?.objectValue ?? [:] where k != "MREG_HOME" { env[k] = v.stringValue.map(expand) }
        let pathFile = dir.sub("github-path")
        env["GITHUB_PATH"] = pathFile
        env["GITHUB_WORKSPACE"] = ci
        env["GITHUB_STEP_SUMMARY"] = dir.sub("summary.md")
        FileManager.default.createFile(atPath: pathFile, contents: nil)
        let steps = (workflow["jobs"]?["gate"]?["steps"]?.arrayValue ?? []).compactMap { step -> (name: String, script: String, env: [String: String])? in
            guard let script = step["run"]?.stringValue else { return nil }
            let stepEnv = (step["env"]?.objectValue ?? [:]).compactMapValues { $0.stringValue.map(expand) }
            return (step["name"]?.stringValue ?? "?", expand(script), stepEnv)
        }
        #expect(steps.map(\.name) == ["Install mreg", "mreg verify", "mreg evaluate --changed", "Job summary", "Publish the registry pages"])
        let statuses = runSteps(steps, in: ci, env: env, pathFile: pathFile)
        #expect(statuses == [0, 0, 1, 0, 0], "install, verify, the gate refuses the worse model, the summary and the pages are written")
        #expect(FileManager.default.fileExists(atPath: ci + "/mreg-site/index.html"))
        #expect(try String(contentsOfFile: dir.sub("summary.md"), encoding: .utf8).contains("accuracy drop vs champion"))
        #expect(FileManager.default.fileExists(atPath: ci + "/mreg-report.xml"))
        // A wrong checksum stops the install.
        var tampered = env
        tampered["MREG_RELEASE_SHA256"] = String(repeating: "0", count: 64)
        let install = steps[0]
        #expect(runSteps([(install.name, install.script, install.env.merging(["MREG_RELEASE_SHA256": tampered["MREG_RELEASE_SHA256"]!]) { _, n in n })],
                         in: ci, env: tampered) != [0])
    }

    @Test func theGitLabTemplateGatesAMergeRequestInACleanEnvironment() throws {
        let dir = TempDir("gate")
        defer { dir.remove() }
        let (reg, origin) = setUp(dir)
        handEditProduction(dir, reg: reg)
        git(["push", "-q", "origin", "pr:refs/merge-requests/1/head"], in: reg)
        // A merge-request pipeline: the request's head detached, nothing else fetched.
        let ci = checkout(dir, "gl", origin: origin, refs: ["+refs/merge-requests/1/head:refs/remotes/origin/merge-requests/1/head"],
                          head: "refs/remotes/origin/merge-requests/1/head")
        let pipeline = try YAML.parse(try String(contentsOfFile: ReadmeTests.root + "/templates/files/ci/gitlab-ci.yml", encoding: .utf8), file: ".gitlab-ci.yml")
        let job = try #require(pipeline["mreg-gate"])
        var env = cleanEnvironment(dir, release: try releaseArchive(dir))
        for (k, v) in job["variables"]?.objectValue ?? [:] where k != "MREG_HOME" { env[k] = v.stringValue }
        env["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] = "main"
        env["CI_DEFAULT_BRANCH"] = "main"
        env["CI_PIPELINE_SOURCE"] = "merge_request_event"
        // GitLab runs before_script and script in one shell, stopping at the first failure.
        let lines = (job["before_script"]?.arrayValue ?? []) + (job["script"]?.arrayValue ?? [])
        let script = lines.compactMap(\.stringValue).joined(separator: "\n")
        let statuses = runSteps([("job", script, [:])], in: ci, env: env)
        #expect(statuses == [1], "the gate refuses the worse model")
        #expect(try String(contentsOfFile: ci + "/mreg-report.md", encoding: .utf8).contains("accuracy drop vs champion"))
    }
}
