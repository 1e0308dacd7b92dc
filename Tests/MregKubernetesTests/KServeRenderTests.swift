import Foundation
import MregCore
import MregKubernetes
import MregTestSupport
import Testing

/// Rendering from manifests and version facts (no registry): runtimes per format, golden files for two
/// environments, and every object checked against KServe's published CRD schemas.
@Suite struct KServeRenderTests {
    static let venv = PythonVenv(requirements: "Tests/requirements-k8s.txt")
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let crds = PythonEnvironment.repositoryRoot.path + "/../shared/schemas/kserve"

    static let versions: [String: RenderedVersion] = [
        "penguins@v1": RenderedVersion(format: "mreg", artifact: "model.json"),
        "penguins@v2": RenderedVersion(format: "mreg", artifact: "model.json"),
        "fraud@v3": RenderedVersion(format: "xgboost-json", artifact: "model.json"),
        "fraud@v4": RenderedVersion(format: "xgboost-ubjson", artifact: "model.ubj"),
        "churn@v1": RenderedVersion(format: "sklearn", artifact: "model.joblib"),
        "risk.score@v2": RenderedVersion(format: "lightgbm-text", artifact: "model.txt"),
        "flow@v1": RenderedVersion(format: "mlflow", artifact: "MLmodel"),
    ]

    static func input(_ manifest: Manifest) -> RenderInput {
        RenderInput(manifest: manifest, versions: versions, deployedIn: Dictionary(uniqueKeysWithValues: manifest.models.keys.map { ($0, String(repeating: "a", count: 40)) }),
                    versionURI: { model, version in "s3://models/registry/models/\(model)/\(version)/" },
                    image: "registry.example.com/mreg:1.0", repository: "https://git.example.com/ml/registry.git",
                    registryPath: "", mainBranch: "main")
    }

    static let staging = Manifest(environment: "staging", models: [
        "penguins": Deployment(version: "v2"),
        "fraud": Deployment(version: "v4"),
        "churn": Deployment(version: "v1"),
        "risk.score": Deployment(version: "v2"),
        "flow": Deployment(version: "v1"),
    ])

    static let production = Manifest(environment: "production", models: [
        "penguins": Deployment(version: "v1", canary: Canary(version: "v2", weight: 25),
                               kubernetes: ModelKubernetesSettings(minReplicas: 2, maxReplicas: 6, scaleMetric: "concurrency", scaleTarget: 8,
                                                                   resources: ["requests": ["cpu": "500m", "memory": "256Mi"], "limits": ["cpu": "2", "memory": "1Gi"]])),
        "fraud": Deployment(version: "v3", kubernetes: ModelKubernetesSettings(runtime: "mreg")),
        "churn": Deployment(version: "v1"),
    ], kubernetes: KubernetesSettings(namespace: "models", serviceAccountName: "models-s3"))

    @Test func runtimesFollowTheFormatAndTheFileName() throws {
        func choose(_ format: String?, _ artifact: String?, _ override: String? = nil) throws -> KServeServing {
            try KServeServing.choose(format: format, artifact: artifact, override: override, model: "m")
        }
        #expect(try choose(nil, nil) == KServeServing(modelFormat: "mreg", runtime: "mreg", folder: true))
        #expect(try choose("xgboost-json", "model.json") == KServeServing(modelFormat: "xgboost", runtime: "kserve-xgbserver", folder: false))
        #expect(try choose("xgboost-json", "booster.model") == KServeServing(modelFormat: "xgboost", runtime: "mreg", folder: true))
        #expect(try choose("lightgbm-text", "model.bst") == KServeServing(modelFormat: "lightgbm", runtime: "kserve-lgbserver", folder: false))
        #expect(try choose("lightgbm-text", "model.txt") == KServeServing(modelFormat: "lightgbm", runtime: "mreg", folder: true))
        #expect(try choose("sklearn", "model.pkl") == KServeServing(modelFormat: "sklearn", runtime: "kserve-sklearnserver", folder: false))
        #expect(try choose("mlflow", "MLmodel") == KServeServing(modelFormat: "mlflow", runtime: "kserve-mlserver", folder: true))
        #expect(try choose("sklearn", "model.joblib", "my-runtime") == KServeServing(modelFormat: "sklearn", runtime: "my-runtime", folder: true))
        #expect(throws: RenderError.self) { try choose("unknown", "model.pt") }
        #expect(throws: RenderError.self) { try choose("sklearn", "model.bin") }
        #expect(throws: RenderError.self) { try choose("sklearn", "model.joblib", "mreg") }
        do {
            _ = try choose("unknown", "model.pt")
        } catch {
            #expect("\(error)" == "model 'm' cannot be rendered for KServe: no KServe runtime is known for format 'unknown'; name one in the manifest (models.m.kubernetes.runtime)")
        }
    }

    /// Renders both environments into a temporary folder per environment.
    func renderBoth(_ dir: TempDir) throws -> [String: [RenderedFile]] {
        var out = [String: [RenderedFile]]()
        for manifest in [Self.staging, Self.production] {
            let files = try KubernetesRender.render(Self.input(manifest), target: .kserve)
            out[manifest.environment] = files
            let folder = dir.sub(manifest.environment)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for f in files { try f.text.write(toFile: folder + "/" + f.path, atomically: true, encoding: .utf8) }
        }
        return out
    }

    @Test func goldenFilesForTwoEnvironmentsWithACanary() throws {
        let dir = TempDir("render-golden")
        defer { dir.remove() }
        let rendered = try renderBoth(dir)
        let update = ProcessInfo.processInfo.environment["MREG_UPDATE_GOLDEN"] == "1"
        for (environment, files) in rendered {
            let folder = Self.golden + "/" + environment
            if update {
                try? FileManager.default.removeItem(atPath: folder)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for f in files { try f.text.write(toFile: folder + "/" + f.path, atomically: true, encoding: .utf8) }
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            #expect(names == files.map(\.path), "\(environment): golden files (MREG_UPDATE_GOLDEN=1 rewrites them)")
            for f in files {
                let expected = try? String(contentsOfFile: folder + "/" + f.path, encoding: .utf8)
                #expect(expected == f.text, "\(environment)/\(f.path) differs from its golden file (MREG_UPDATE_GOLDEN=1 rewrites them)")
            }
        }
        // Same input, byte-identical output.
        #expect(try renderBoth(dir) == rendered)
        let production = rendered["production"]!.first { $0.path == "inferenceservice-penguins.yaml" }!.text
        #expect(production.contains("canaryTrafficPercent: 25") && production.contains("storageUri: \"s3://models/registry/models/penguins/v2/\""))
        #expect(production.contains("mreg.dev/version: v1") && production.contains("mreg.dev/canary-version: v2"))
    }

    @Test(.enabled(if: venv.available, "needs python3 and pip for the venv of Tests/requirements-k8s.txt"))
    func everyObjectValidatesAgainstTheKServeSchemasAndEveryRuntimeExists() throws {
        let dir = TempDir("render-schema")
        defer { dir.remove() }
        let rendered = try renderBoth(dir)
        for (environment, files) in rendered {
            let r = Self.venv.runScript("scripts/testing/validate_k8s.py", [dir.sub(environment), Self.crds])
            #expect(r.status == 0, "\(r.stderr)")
            let doc = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            #expect(doc["errors"] as? [String] == [], "\(environment): \(r.stdout) \(r.stderr.suffix(500))")
            #expect((doc["objects"] as? [String])?.count == files.count - 1)
            // Every runtime named is a KServe built-in or rendered here.
            let renderedRuntimes = files.contains { $0.path == "clusterservingruntime-mreg.yaml" } ? ["mreg"] : []
            for f in files where f.path.hasPrefix("inferenceservice-") {
                let runtime = f.text.split(separator: "\n").first { $0.hasPrefix("      runtime: ") }.map { String($0.dropFirst("      runtime: ".count)) } ?? "?"
                #expect(KServeServing.builtIns.contains(runtime) || renderedRuntimes.contains(runtime), "\(f.path): runtime \(runtime)")
            }
        }
        // A field KServe does not know is caught (the check is strict).
        let bad = dir.sub("bad")
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        let text = rendered["staging"]!.first { $0.path == "inferenceservice-churn.yaml" }!.text
        try text.replacingOccurrences(of: "  predictor:\n", with: "  predictor:\n    replicas: 3\n").write(toFile: bad + "/x.yaml", atomically: true, encoding: .utf8)
        let r = Self.venv.runScript("scripts/testing/validate_k8s.py", [bad, Self.crds])
        #expect(r.stdout.contains("replicas: unknown field"), "\(r.stdout)")
    }

    @Test func namesThatCannotBeKubernetesNamesAreRefused() {
        var m = Self.staging
        m.models = ["a.b": Deployment(version: "v2"), "a_b": Deployment(version: "v2")]
        var input = Self.input(m)
        input.versions["a.b@v2"] = RenderedVersion(format: "mreg", artifact: "model.json")
        input.versions["a_b@v2"] = RenderedVersion(format: "mreg", artifact: "model.json")
        #expect(throws: RenderError.invalid("models 'a.b' and 'a_b' both become the Kubernetes name 'a-b'")) {
            try KubernetesRender.render(input, target: .kserve)
        }
        var noStore = Self.input(Self.staging)
        noStore.versionURI = { _, _ in nil }
        #expect(throws: RenderError.self) { try KubernetesRender.render(noStore, target: .kserve) }
        var missing = Self.input(Manifest(environment: "staging", models: ["ghost": Deployment(version: "v9")]))
        missing.versions = [:]
        #expect(throws: RenderError.invalid("model 'ghost' has no version 'v9' on main")) { try KubernetesRender.render(missing, target: .kserve) }
    }
}
