import Foundation
import MregTestSupport
import Testing

@Suite(.serialized) struct RegistryCommandTests {
    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: mregBinary), "build mreg first: swift build")
    }

    /// kill -9 between writing the files and moving the branch (the fault point stops mreg there
    /// exactly): a plain `git commit -am` never deletes a version, and the next mreg command puts
    /// the checkout back.
    @Test func killedBetweenFilesAndBranchLosesNothing() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        dir.write("art/model.bin", "{\"w\": 1}\n")
        #expect(mreg(["register", "penguins", "--from", dir.sub("art")], in: reg).status == 0)
        let before = git(["rev-parse", "HEAD"], in: reg).stdout
        for (i, follow) in ["git", "mreg"].enumerated() {
            dir.write("art/model.bin", "{\"w\": \(i + 2)}\n")
            let killed = mreg(["register", "penguins", "--from", dir.sub("art")], in: reg, environment: ["MREG_FAULT_INJECT": "worktree-before-ref"])
            #expect(killed.status == 137)
            if follow == "git" {
                // The user's next step is a plain commit: it may commit what mreg meant, never a deletion.
                git(["commit", "-qam", "after the kill"], in: reg)
                let files = git(["ls-tree", "-r", "--name-only", "HEAD"], in: reg).stdout
                #expect(files.contains("models/penguins/v1/model.bin"), "\(files)")
            } else {
                // The next mreg command repairs the checkout: nothing staged, the branch as it was.
                let head = git(["rev-parse", "HEAD"], in: reg).stdout
                #expect(mreg(["list"], in: reg).status == 0)
                #expect(git(["status", "--porcelain"], in: reg).stdout == "", "\(git(["status", "--porcelain"], in: reg).stdout)")
                #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
                let again = mreg(["register", "penguins", "--from", dir.sub("art")], in: reg)
                #expect(again.status == 0, "\(again.stderr)")
            }
        }
        #expect(git(["rev-list", "--count", "\(before)..HEAD"], in: reg).stdout == "2")
        #expect(mreg(["verify"], in: reg).status == 0)
        #expect(git(["fsck", "--strict"], in: reg).status == 0)
    }

    /// libgit2 1.5 loops forever inflating a truncated loose object; mreg checks loose objects
    /// itself first. `timeout` keeps a regression from hanging the suite.
    @Test func aTruncatedLooseObjectIsAnErrorNotAHang() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        dir.write("art/model.bin", String(repeating: "weights 0123456789 ", count: 2000))
        #expect(mreg(["register", "m", "--from", dir.sub("art")], in: reg).status == 0)
        let blob = git(["rev-parse", "HEAD:models/m/v1/model.bin"], in: reg).stdout
        let file = reg + "/.git/objects/" + blob.prefix(2) + "/" + blob.dropFirst(2)
        chmod(file, 0o644)
        #expect(truncate(file, 30) == 0)
        var env = testEnvironment
        env["MREG_REGISTRY"] = ""
        for args in [["verify"], ["evaluate", "m@v1"]] {
            let r = run("/usr/bin/timeout", ["30", mregBinary] + args, cwd: reg, environment: env)
            #expect(r.status == 1 || r.status == 2, "\(args): exit \(r.status) (124 is a hang)")
            #expect((r.stdout + r.stderr).contains("object \(blob) is corrupt"), "\(args): \(r.stdout) \(r.stderr)")
        }
        // show reads version.yaml, not the artifact: it answers as before.
        #expect(run("/usr/bin/timeout", ["30", mregBinary, "show", "m@v1"], cwd: reg, environment: env).status == 0)
    }

    @Test func fullReadWriteCycle() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg, "--name", "demo"], in: dir.path).status == 0)
        dir.write("art/model.bin", "{\"w\": 1}\n")
        dir.write("art/metrics.json", "{\"accuracy\": 0.93, \"f1_macro\": 0.91}")
        let r1 = mreg(["register", "penguins", "--from", dir.sub("art"), "-m", "first"], in: reg)
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(r1.stdout.hasPrefix("Registered penguins@v1 (unknown, model.bin) on main"), "\(r1.stdout)")
        #expect(r1.stdout.contains("note: 'model.bin' is format unknown"))
        let r2 = mreg(["register", "penguins", "--from", dir.sub("art"), "--json"], in: reg + "/deploy")
        #expect(try JSONSerialization.jsonObject(with: Data(r2.stdout.utf8)) is [String: Any])
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(git(["fsck", "--strict"], in: reg).status == 0)

        let list = mreg(["list"], in: reg)
        #expect(list.stdout.contains("penguins  -     2         v2      -        -"), "\(list.stdout)")
        let listJSON = try JSONSerialization.jsonObject(with: Data(mreg(["list", "--json"], in: reg).stdout.utf8)) as! [String: Any]
        let models = listJSON["models"] as! [[String: Any]]
        #expect(models.first?["latest"] as? String == "v2")
        #expect(mreg(["list", "penguins"], in: reg).stdout.contains("0.9300"))
        let show = mreg(["show", "penguins@v1"], in: reg)
        #expect(show.stdout.contains("message      first"))
        #expect(show.stdout.contains("sha256 " + String(run("sha256sum", [dir.sub("art/model.bin")]).stdout.prefix(64))))
        #expect(mreg(["show", "penguins@v2", "--json"], in: reg).stdout.contains("\"version\": \"v2\""))
        #expect(mreg(["history", "penguins"], in: reg).stdout.contains("registered v2"))
        #expect(mreg(["diff", "penguins@v1", "penguins@v2"], in: reg).status == 0)
        let verify = mreg(["verify"], in: reg)
        #expect(verify.status == 0)
        #expect(verify.stdout.hasPrefix("ok: 1 models, 2 versions"))

        // Tamper with an artifact through git: verify exits 1 with one line per problem.
        dir.write("reg/models/penguins/v1/model.bin", "{\"w\": 2}\n")
        git(["commit", "-qam", "tamper"], in: reg)
        let bad = mreg(["verify"], in: reg)
        #expect(bad.status == 1)
        #expect(bad.stdout.split(separator: "\n").count == 2)
        #expect(bad.stderr == "mreg: error: verify found 2 problems\n")
        let badJSON = mreg(["verify", "--json"], in: reg)
        #expect(badJSON.status == 1)
        #expect(badJSON.stdout.contains("\"ok\": false"))
    }

    @Test func usageAndInputErrorsExitTwoWithOneLine() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        dir.write("art/model.bin", "{}")
        let cases: [([String], String)] = [
            (["register", "../evil", "--from", dir.sub("art")], "invalid model name '../evil'"),
            (["register", "ok", "--from", dir.sub("nope")], "is not a folder"),
            (["register", "ok"], "missing expected argument '--from <from>'"),
            (["show", "penguins"], "invalid reference 'penguins'"),
            (["show", "penguins@v1"], "model 'penguins' not found"),
            (["show", "penguins@qa"], "environment 'qa' is not in mreg.yaml"),
            (["list", "NOPE"], "invalid model name 'NOPE'"),
            (["history", "ghost"], "model 'ghost' not found"),
            (["init", reg], "is already a registry"),
            (["frobnicate"], "unexpected argument 'frobnicate'"),
            (["history", "x", "--limit", "0"], "--limit must be at least 1"),
        ]
        for (args, expected) in cases {
            let r = mreg(args, in: reg)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(r.isOneLineError, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(r.stdout == "", "\(args)")
        }
        // Outside any registry.
        let outside = mreg(["list"], in: dir.path)
        #expect(outside.status == 2)
        #expect(outside.stderr.contains("no registry found"))
        // A broken mreg.yaml is named with its field.
        dir.write("reg/mreg.yaml", "schemaVersion: 1\nname: x\nbogus: 1\n")
        git(["commit", "-qam", "break config"], in: reg)
        let broken = mreg(["list"], in: reg)
        #expect(broken.status == 2)
        #expect(broken.stderr == "mreg: error: mreg.yaml: field 'bogus' is not a known field\n")
    }

    @Test func aBrokenModelJSONIsRefusedNotRegisteredAsUnknown() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        dir.write("trunc/model.json", #"{"schemaVersion": 1, "format": "mreg-model", "algorithm": "logis"#)
        dir.write("other/model.json", #"{"weights": [1, 2, 3]}"#)
        dir.write("other/metrics.json", #"{"accuracy": 0.9}"#)
        let cases: [(String, String)] = [
            ("trunc", "mreg: error: 'model.json' is not valid JSON ("),
            ("other", "mreg: error: 'model.json' is a JSON object that is neither an mreg model (schemaVersion and format 'mreg-model') nor an XGBoost model (learner)"),
        ]
        for (folder, expected) in cases {
            let r = mreg(["register", "m", "--from", dir.sub(folder)], in: reg)
            #expect(r.status == 2, "\(folder): \(r.status) \(r.stdout)")
            #expect(r.isOneLineError, "\(folder): \(r.stderr)")
            #expect(r.stderr.hasPrefix(expected), "\(folder): \(r.stderr)")
            #expect(r.stdout == "")
        }
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head, "nothing was committed")
        // Said on purpose, it registers as a file no runtime here scores; a pickle beside JSON stays unknown.
        let stated = mreg(["register", "m", "--from", dir.sub("other"), "--format", "unknown"], in: reg)
        #expect(stated.status == 0, "\(stated.stderr)")
        #expect(stated.stdout.hasPrefix("Registered m@v1 (unknown, model.json)"), "\(stated.stdout)")
        dir.write("pickled/model.pkl", "\u{80}\u{04}pickle")
        dir.write("pickled/config.json", "{\"n\": 1}")
        let pickled = mreg(["register", "p", "--from", dir.sub("pickled")], in: reg)
        #expect(pickled.status == 0, "\(pickled.stderr)")
        #expect(pickled.stdout.hasPrefix("Registered p@v1 (unknown, model.pkl)"), "\(pickled.stdout)")
    }

    @Test func initInstallsTheChosenCIPipeline() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        for (ci, file) in [("github", ".github/workflows/mreg.yml"), ("gitlab", ".gitlab-ci.yml")] {
            let reg = dir.sub(ci)
            #expect(mreg(["init", reg, "--ci", ci], in: dir.path).status == 0)
            let text = try String(contentsOfFile: reg + "/" + file, encoding: .utf8)
            #expect(text.contains("mreg verify") && text.contains("mreg evaluate --changed"))
            #expect(git(["ls-files", file], in: reg).stdout == file)
        }
        #expect(mreg(["init", dir.sub("none"), "--ci", "none"], in: dir.path).status == 0)
        #expect(git(["ls-files"], in: dir.sub("none")).stdout == "README.md\ndeploy/production.yaml\ndeploy/staging.yaml\nmreg.yaml")
        let bad = mreg(["init", dir.sub("x"), "--ci", "jenkins"], in: dir.path)
        #expect(bad.status == 2 && bad.stderr.contains("--ci must be github, gitlab or none"))
    }

    @Test func helpHasExamples() {
        for command in ["init", "register", "list", "show", "history", "diff", "verify", "quickstart", "train", "card", "evaluate",
                        "promote", "rollback", "status"] {
            let r = mreg([command, "--help"], in: "/")
            #expect(r.status == 0, "\(command)")
            #expect(r.stdout.contains("mreg \(command)"), "\(command) help has no example")
        }
        #expect(mreg(["--version"], in: "/").status == 0)
    }

    @Test func identityIsRequired() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let home = dir.sub("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let env = ["HOME": home, "XDG_CONFIG_HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "", "GIT_AUTHOR_EMAIL": "",
                   "GIT_COMMITTER_NAME": "", "GIT_COMMITTER_EMAIL": ""]
        let r = mreg(["init", dir.sub("reg")], in: dir.path, environment: env)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no author identity"), "\(r.stderr)")
        #expect(r.isOneLineError)
    }

    @Test func eightConcurrentRegistrationsAllLand() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        for i in 0..<8 { dir.write("art\(i)/model.bin", "{\"writer\": \(i)}") }
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let r = mreg(["register", "m", "--from", dir.sub("art\(i)"), "--json"], in: reg)
            results.add(r)
        }
        let all = results.all
        let landed = all.filter { $0.status == 0 }
        for failed in all where failed.status != 0 {
            #expect(failed.stderr.contains("moved, run again"), "\(failed.stderr)")
        }
        #expect(landed.count >= 1)
        let versions = Set(landed.compactMap { r in
            (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["version"] as? String
        })
        #expect(versions.count == landed.count)
        #expect(Int(git(["rev-list", "--count", "HEAD"], in: reg).stdout) == 1 + landed.count)
        #expect(git(["fsck", "--strict"], in: reg).status == 0)
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(mreg(["verify"], in: reg).status == 0)
        // Every writer's artifact is in exactly one version.
        var writers = Set<String>()
        for v in versions {
            writers.insert(git(["show", "HEAD:models/m/\(v)/model.bin"], in: reg).stdout)
        }
        #expect(writers.count == landed.count)
        #expect(landed.count == 8, "with retries all eight should land")
    }
}

final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results = [RunResult]()
    func add(_ r: RunResult) {
        lock.lock()
        results.append(r)
        lock.unlock()
    }
    var all: [RunResult] {
        lock.lock()
        defer { lock.unlock() }
        return results
    }
}

@Suite(.serialized) struct QuickstartTests {
    @Test func quickstartRunsTheWholeLoop() throws {
        let dir = TempDir("qs")
        defer { dir.remove() }
        let r = mreg(["quickstart", dir.sub("demo")], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        for expected in ["Registered penguins@v1", "PASSED", "Promote penguins v1 to production", "staging     penguins v1",
                         "the reconciler put penguins@v1 in the store", "-> Adelie", "switched penguins v1 -> v2",
                         "DRIFT: 3 of 7 features drifted"] {
            #expect(r.stdout.contains(expected), "missing: \(expected)")
        }
        #expect(r.stdout.contains("requests sent meanwhile, 0 failed"))
        #expect(git(["fsck", "--strict"], in: dir.sub("demo/registry")).status == 0)
        #expect(git(["status", "--porcelain"], in: dir.sub("demo/registry")).stdout == "")
        #expect(mreg(["verify"], in: dir.sub("demo/registry")).status == 0)
        // A second run refuses the non-empty folder and leaves it alone.
        let again = mreg(["quickstart", dir.sub("demo")], in: dir.path)
        #expect(again.status == 2 && again.stderr.contains("is not empty"))
    }
}
