import Foundation
import MregTestSupport
import Testing

/// `mreg render`: Kubernetes objects from deploy/ENV.yaml, checked against the published schemas.
@Suite(.serialized) struct RenderTests {
    static let venv = PythonVenv(requirements: "Tests/requirements-k8s.txt")
    static let crds = ReadmeTests.root + "/../shared/schemas/kserve"

    /// A registry with penguins v1 and v2 (complete cards), v1 in staging.
    func setUp(_ dir: TempDir) -> String {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        for algorithm in ["logistic", "gbdt"] {
            #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--algorithm", algorithm, "--param", "max_iter=10"], in: reg).status == 0)
        }
        for v in ["v1", "v2"] {
            #expect(mreg(["card", "penguins@\(v)", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        }
        #expect(mreg(["promote", "penguins@v1", "--to", "staging", "--merge"], in: reg).status == 0)
        return reg
    }

    /// The schema checker's verdict on a rendered folder: its errors and the objects it saw.
    func validate(_ folder: String, s3Endpoint: String? = nil) throws -> (errors: [String], objects: [String], storageUris: [String]) {
        let r = Self.venv.runScript("scripts/testing/validate_k8s.py", [folder, Self.crds] + (s3Endpoint.map { [$0] } ?? []))
        #expect(r.status == 0, "\(r.stderr)")
        let doc = json(r.stdout)
        return (doc["errors"] as? [String] ?? ["no result: \(r.stdout.prefix(300)) \(r.stderr.suffix(300))"],
                doc["objects"] as? [String] ?? [], doc["storageUris"] as? [String] ?? [])
    }

    func files(_ folder: String) -> [String: String] {
        var out = [String: String]()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            out[name] = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)
        }
        return out
    }

    @Test(.enabled(if: venv.available, "needs python3 and pip for the venv of Tests/requirements-k8s.txt"))
    func theK8sTargetValidatesAndIsByteIdenticalOnARerun() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let out = dir.sub("out")
        let first = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "https://git.example.com/ml/reg.git", "--out", out, "--json"], in: reg)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(json(first.stdout)["written"] as? [String] == ["deployment-mreg-staging.yaml", "kustomization.yaml", "service-mreg-staging.yaml"])
        let checked = try validate(out)
        #expect(checked.errors == [])
        #expect(checked.objects == ["Deployment/mreg-staging", "Service/mreg-staging"])
        let deployment = files(out)["deployment-mreg-staging.yaml"] ?? ""
        #expect(deployment.contains("- reconcile\n") && deployment.contains("- \"https://git.example.com/ml/reg.git\""))
        let before = files(out)
        let again = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "https://git.example.com/ml/reg.git", "--out", out], in: reg)
        #expect(again.status == 0 && again.stdout.contains("up to date"), "\(again.stdout)")
        #expect(files(out) == before)
        // A foreign file in the folder is left alone; a kustomization.yaml of someone else's is refused.
        try "keep".write(toFile: out + "/notes.txt", atomically: true, encoding: .utf8)
        #expect(mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--out", out], in: reg).status == 0)
        #expect(files(out)["notes.txt"] == "keep")
        let foreign = dir.sub("foreign")
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try "resources: [a.yaml]\n".write(toFile: foreign + "/kustomization.yaml", atomically: true, encoding: .utf8)
        let refused = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--out", foreign], in: reg)
        #expect(refused.status == 2 && refused.isOneLineError && refused.stderr.contains("was not written by mreg render"), "\(refused.stderr)")
        #expect(files(foreign) == ["kustomization.yaml": "resources: [a.yaml]\n"])
    }

    @Test func theBranchGetsOneCommitPerChangingCommitOfMainAndNoneOtherwise() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let args = ["render", "--env", "staging", "--target", "k8s", "--repo", "file:///srv/reg.git", "--branch", "k8s"]
        let first = mreg(args + ["--json"], in: reg)
        #expect(first.status == 0, "\(first.stderr)")
        let main1 = git(["rev-parse", "main"], in: reg).stdout
        #expect((json(first.stdout)["commits"] as? [[String: Any]])?.map { $0["source"] as? String } == [main1])
        #expect(git(["ls-tree", "-r", "--name-only", "k8s"], in: reg).stdout == "staging/deployment-mreg-staging.yaml\nstaging/kustomization.yaml\nstaging/service-mreg-staging.yaml")
        #expect(git(["log", "-1", "--format=%(trailers:key=Mreg-Rendered-From,valueonly)", "k8s"], in: reg).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == main1)
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        // Nothing new on main: no commit.
        let same = mreg(args, in: reg)
        #expect(same.status == 0 && same.stdout.contains("up to date"), "\(same.stdout)")
        #expect(git(["rev-list", "--count", "k8s"], in: reg).stdout == "1")
        // A commit of main that changes nothing rendered (a new version), then two that do.
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        #expect(mreg(["promote", "penguins@v2", "--to", "staging", "--merge"], in: reg).status == 0)
        let main3 = git(["rev-parse", "main"], in: reg).stdout
        let kubernetes = """
            kubernetes:
              replicas: 3
              namespace: models
            """
        try appendToManifest(reg, "staging", kubernetes)
        let main4 = git(["rev-parse", "main"], in: reg).stdout
        let path = reg + "/deploy/staging.yaml"
        try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "replicas: 3", with: "replicas: 4")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "four replicas"], in: reg).status == 0)
        let main5 = git(["rev-parse", "main"], in: reg).stdout
        let caughtUp = mreg(args + ["--json"], in: reg)
        #expect(caughtUp.status == 0, "\(caughtUp.stderr)")
        // The new version and its promotion change nothing rendered (the Deployment names no version);
        // the two edits do, each in a commit of its own, oldest first.
        #expect((json(caughtUp.stdout)["commits"] as? [[String: Any]])?.map { $0["source"] as? String } == [main4, main5])
        #expect(main3 != main4)
        #expect(git(["rev-list", "--count", "k8s"], in: reg).stdout == "3")
        #expect(git(["show", "k8s~1:staging/deployment-mreg-staging.yaml"], in: reg).stdout.contains("replicas: 3"))
        #expect(git(["show", "k8s:staging/deployment-mreg-staging.yaml"], in: reg).stdout.contains("replicas: 4"))
        #expect(git(["show", "k8s:staging/deployment-mreg-staging.yaml"], in: reg).stdout.contains("namespace: models"))
        // The main branch itself, and folders outside the branch, are refused.
        let onMain = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--branch", "main"], in: reg)
        #expect(onMain.status == 2 && onMain.isOneLineError && onMain.stderr.contains("not the main branch"), "\(onMain.stderr)")
        let escape = mreg(args + ["--folder", "../x"], in: reg)
        #expect(escape.status == 2 && escape.isOneLineError, "\(escape.stderr)")
        #expect(git(["rev-list", "--count", "k8s"], in: reg).stdout == "3")
        // --push (bare: origin) sends the branch where Argo CD or Flux reads it.
        #expect(git(["init", "-q", "--bare", dir.sub("origin.git")], in: dir.path).status == 0)
        #expect(git(["remote", "add", "origin", dir.sub("origin.git")], in: reg).status == 0)
        let pushed = mreg(args + ["--push"], in: reg)
        #expect(pushed.status == 0 && pushed.stdout.contains("pushed k8s to"), "\(pushed.stdout) \(pushed.stderr)")
        #expect(git(["rev-parse", "k8s"], in: dir.sub("origin.git")).stdout == git(["rev-parse", "k8s"], in: reg).stdout)
        // A CI checkout: only origin/k8s, nothing new to render: no commit, nothing to push, exit 0.
        #expect(git(["fetch", "-q", "origin"], in: reg).status == 0)
        #expect(git(["branch", "-q", "-D", "k8s"], in: reg).status == 0)
        let idle = mreg(args + ["--push"], in: reg)
        #expect(idle.status == 0 && idle.stdout.contains("up to date"), "\(idle.stdout) \(idle.stderr)")
        #expect(git(["rev-parse", "-q", "--verify", "refs/heads/k8s"], in: reg).status != 0)
    }

    /// Commits an edit of deploy/ENV.yaml on main (a top-level section appended), as a merged pull request would.
    func appendToManifest(_ reg: String, _ env: String, _ text: String) throws {
        let path = reg + "/deploy/\(env).yaml"
        let old = try String(contentsOfFile: path, encoding: .utf8)
        try (old + text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "Kubernetes settings for \(env)"], in: reg).status == 0)
    }

    @Test func badInputIsOneLineAndChangesNothing() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let out = dir.sub("out")
        let cases: [([String], String)] = [
            (["render", "--env", "staging", "--target", "helm", "--out", out], "--target must be kserve or k8s"),
            (["render", "--env", "staging", "--out", out, "--branch", "k8s"], "exactly one of --out DIR or --branch NAME"),
            (["render", "--env", "staging"], "exactly one of --out DIR or --branch NAME"),
            (["render", "--env", "nowhere", "--target", "k8s", "--repo", "x", "--out", out], "no environment 'nowhere'"),
            (["render", "--env", "staging", "--target", "k8s", "--out", out], "needs the Git URL the reconciler follows"),
            (["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--namespace", "Bad_NS", "--out", out], "is not a Kubernetes name"),
            (["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--revision", "nope", "--out", out], "revision 'nope' names no commit"),
            (["render", "--env", "staging", "--target", "kserve", "--out", out], "has none for it"),
            (["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--out", out, "--push"], "--push needs --branch"),
        ]
        for (args, message) in cases {
            let r = mreg(args, in: reg)
            #expect(r.status == 2 || r.status == 64, "\(args): \(r.status)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/kustomization.yaml"))
        // Hostile kubernetes settings in the manifest: refused by name, by every command that reads it.
        let hostile: [(String, String)] = [
            ("kubernetes:\n  replicas: -1", "replicas"),
            ("kubernetes:\n  namespace: \"../etc\"", "namespace"),
            ("kubernetes:\n  image: \"a b\"", "image"),
            ("kubernetes:\n  bogus: 1", "bogus"),
        ]
        let main = git(["rev-parse", "main"], in: reg).stdout
        for (text, field) in hostile {
            try appendToManifest(reg, "staging", text)
            let r = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--out", out], in: reg)
            #expect(r.status == 2 && r.isOneLineError && r.stderr.contains(field), "\(text): \(r.stderr)")
            #expect(git(["reset", "-q", "--hard", main], in: reg).status == 0)
        }
        let modelHostile: [(String, String)] = [
            ("scaleMetric: gpu", "scaleMetric"), ("minReplicas: 3\n      maxReplicas: 1", "maxReplicas"),
            ("resources:\n        limits:\n          cpu: \"lots\"", "quantity"), ("runtime: \"Not/A/Name\"", "runtime"),
        ]
        for (text, field) in modelHostile {
            let path = reg + "/deploy/staging.yaml"
            let old = try String(contentsOfFile: path, encoding: .utf8)
            try old.replacingOccurrences(of: "    version: v1\n", with: "    version: v1\n    kubernetes:\n      \(text)\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(git(["commit", "-qam", "hostile"], in: reg).status == 0)
            let r = mreg(["render", "--env", "staging", "--target", "k8s", "--repo", "x", "--out", out], in: reg)
            #expect(r.status == 2 && r.isOneLineError && r.stderr.contains(field), "\(text): \(r.stderr)")
            #expect(git(["reset", "-q", "--hard", main], in: reg).status == 0)
        }
    }

    @Test func promotionKeepsAModelsKubernetesSettings() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let path = reg + "/deploy/staging.yaml"
        let old = try String(contentsOfFile: path, encoding: .utf8)
        try old.replacingOccurrences(of: "    version: v1\n", with: "    version: v1\n    kubernetes:\n      minReplicas: 2\n      maxReplicas: 5\n      scaleMetric: concurrency\n      scaleTarget: 8\n      resources:\n        limits:\n          cpu: 2\n          memory: 1Gi\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "scale penguins"], in: reg).status == 0)
        #expect(mreg(["promote", "penguins@v2", "--to", "staging", "--canary", "25", "--merge"], in: reg).status == 0)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("canary:") && text.contains("maxReplicas: 5") && text.contains("cpu: \"2\"") && text.contains("memory: 1Gi"), "\(text)")
    }

    @Test func serveModelDirServesOneVersionFolderAndRefusesOthers() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let folder = reg + "/models/penguins/v1"
        let d = try Daemon(mregBinary, ["serve", "--model-dir", folder, "--model-name", "penguins", "--port", "0"], stdout: true, stderr: dir.sub("serve.log"))
        defer { d.stop() }
        guard let line = d.readLine(), line.hasPrefix("listening on ") else { throw Daemon.DidNotStart(what: "mreg serve --model-dir") }
        let url = String(line.dropFirst("listening on ".count))
        let ready = run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/v2/models/penguins/versions/v1/ready"])
        #expect(ready.stdout == "200", "\(ready.stdout) \(ready.stderr)")
        // The repository API has a token nobody was told.
        let load = run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url + "/v2/repository/models/penguins/unload"])
        #expect(load.stdout == "401" || load.stdout == "403", "\(load.stdout)")
        let cases: [([String], String)] = [
            (["serve", "--model-dir", dir.path, "--model-name", "penguins", "--port", "0"], "has no readable version.yaml"),
            (["serve", "--model-dir", folder, "--port", "0"], "--model-dir and --model-name go together"),
            (["serve", "--model-dir", folder, "--model-name", "Bad Name", "--port", "0"], "is not valid"),
            (["serve", "--store", dir.path, "--model-dir", folder, "--model-name", "p", "--port", "0"], "exactly one of --store STORE or --model-dir DIR"),
        ]
        for (args, message) in cases {
            let r = mreg(args, in: reg)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    @Test(.enabled(if: venv.available && MotoServer.venv.available, "needs python3 and pip for the venvs of Tests/requirements-k8s.txt and requirements-s3.txt"))
    func kserveStorageURIsExistInTheStoreAfterStorePush() async throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        let moto = try MotoServer()
        defer { moto.stop() }
        try await moto.createBucket("models")
        let config = try String(contentsOfFile: reg + "/mreg.yaml", encoding: .utf8)
        try (config + "store:\n  url: s3://models/registry\n  endpoint: \(moto.endpoint)\n  region: us-east-1\n")
            .write(toFile: reg + "/mreg.yaml", atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "An artifact store"], in: reg).status == 0)
        #expect(mreg(["promote", "penguins@v2", "--to", "staging", "--canary", "20", "--merge"], in: reg).status == 0)
        let aws = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "HOME": dir.path]
        let out = dir.sub("out")
        // Before the push the folders are not there: the check below would catch a render that names them anyway.
        #expect(mreg(["render", "--env", "staging", "--out", out], in: reg).status == 0)
        #expect(try validate(out, s3Endpoint: moto.endpoint).errors.contains { $0.contains("does not exist") })
        let push = mreg(["store", "push", "--json"], in: reg, environment: aws)
        #expect(push.status == 0, "\(push.stderr)")
        let report = json(push.stdout)
        #expect(report["versions"] as? Int == 2 && (report["uploaded"] as? Int ?? 0) > 0, "\(push.stdout)")
        #expect(!push.stdout.contains("testing"), "no credential in the report")
        let again = json(mreg(["store", "push", "--json"], in: reg, environment: aws).stdout)
        #expect(again["uploaded"] as? Int == 0 && again["present"] as? Int == (report["uploaded"] as? Int ?? -1) + (report["present"] as? Int ?? -1),
                "a second push sends nothing")
        let checked = try validate(out, s3Endpoint: moto.endpoint)
        #expect(checked.errors == [])
        #expect(checked.objects == ["ClusterServingRuntime/mreg", "InferenceService/penguins"])
        #expect(checked.storageUris == ["s3://models/registry/models/penguins/v2/"])
        let isvc = files(out)["inferenceservice-penguins.yaml"] ?? ""
        #expect(isvc.contains("canaryTrafficPercent: 20") && isvc.contains("mreg.dev/version: v1") && isvc.contains("mreg.dev/canary-version: v2"))
        let main = git(["rev-parse", "main"], in: reg).stdout
        #expect(isvc.contains("mreg.dev/registry-commit: \(main)"), "the commit that deployed the canary")
        // Wrong credentials: one line, exit 2, the secret never printed.
        let denied = mreg(["store", "push"], in: reg, environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": dir.path, "AWS_PROFILE": "nobody"])
        #expect(denied.status == 2 && denied.isOneLineError, "\(denied.stderr)")
    }

    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/render").path

    /// A rendered file with the deploying commit (which differs between runs) named by a placeholder.
    func normalized(_ text: String) -> String {
        text.replacingOccurrences(of: #"mreg\.dev/registry-commit: [0-9a-f]{40}"#, with: "mreg.dev/registry-commit: COMMIT", options: .regularExpression)
    }

    @Test func aRegistryWithBuiltInXGBoostAndSklearnModelsRendersItsGoldenFiles() throws {
        let dir = TempDir("render")
        defer { dir.remove() }
        let reg = setUp(dir)
        dir.write("fraud/model.json", handXGBoost)
        #expect(mreg(["register", "fraud", "--from", dir.sub("fraud")], in: reg).status == 0)
        dir.write("churn/model.joblib", "\u{80}\u{04}joblib")
        #expect(mreg(["register", "churn", "--from", dir.sub("churn")], in: reg).status == 0)
        let config = try String(contentsOfFile: reg + "/mreg.yaml", encoding: .utf8)
        try (config + "store:\n  url: s3://models/registry\n").write(toFile: reg + "/mreg.yaml", atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "An artifact store"], in: reg).status == 0)
        for model in ["fraud", "churn"] {
            let r = mreg(["promote", "\(model)@v1", "--to", "staging", "--force", "--reason", "judged offline", "--merge"], in: reg)
            #expect(r.status == 0, "\(model): \(r.stdout) \(r.stderr)")
        }
        #expect(mreg(["promote", "penguins@v1", "--to", "production", "--merge"], in: reg).status == 0)
        #expect(mreg(["promote", "penguins@v2", "--to", "staging", "--merge"], in: reg).status == 0)
        let canary = mreg(["promote", "penguins@v2", "--to", "production", "--canary", "25", "--merge"], in: reg)
        #expect(canary.status == 0, "\(canary.stdout) \(canary.stderr)")
        let update = ProcessInfo.processInfo.environment["MREG_UPDATE_GOLDEN"] == "1"
        for env in ["staging", "production"] {
            let out = dir.sub("out-" + env)
            let r = mreg(["render", "--env", env, "--target", "kserve", "--namespace", "models", "--image", "registry.example.com/mreg:1.0", "--out", out], in: reg)
            #expect(r.status == 0, "\(env): \(r.stderr)")
            let rendered = files(out).mapValues(normalized)
            let folder = Self.golden + "/" + env
            if update {
                try? FileManager.default.removeItem(atPath: folder)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for (name, text) in rendered { try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8) }
            }
            #expect(files(folder) == rendered, "\(env) differs from Tests/EndToEndTests/Golden/render/\(env) (MREG_UPDATE_GOLDEN=1 rewrites it)")
            // The same input renders byte-identical files.
            let again = mreg(["render", "--env", env, "--target", "kserve", "--namespace", "models", "--image", "registry.example.com/mreg:1.0", "--out", out], in: reg)
            #expect(again.stdout.contains("up to date"), "\(again.stdout)")
        }
    }
}
