import MregCore

/// What `mreg render` writes for an environment.
public enum RenderTarget: String, Sendable, CaseIterable {
    /// One KServe InferenceService per model (plus the mreg ClusterServingRuntime when used).
    case kserve
    /// A Deployment running `mreg serve` with `mreg reconcile` beside it, and its Service.
    case k8s
}

/// One rendered file: a path relative to the output folder and its text.
public struct RenderedFile: Sendable, Equatable {
    public var path: String
    public var text: String
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// The facts of one model version that rendering needs, read from its `version.yaml`.
public struct RenderedVersion: Sendable, Equatable {
    public var format: String?
    public var artifact: String?
    public init(format: String?, artifact: String?) {
        self.format = format
        self.artifact = artifact
    }
}

/// Everything one render reads: the manifest and the versions it names, with where each lives.
public struct RenderInput: Sendable {
    public var manifest: Manifest
    /// `MODEL@VERSION` -> its facts, for every stable and canary version of the manifest.
    public var versions: [String: RenderedVersion]
    /// Model -> the commit of main that made its manifest entry what it is (an annotation).
    public var deployedIn: [String: String]
    /// The folder URI of a version in the artifact store (`s3://bucket/prefix/models/M/vN/`), nil
    /// when the registry has no store KServe can read.
    public var versionURI: @Sendable (_ model: String, _ version: String) -> String?
    /// The `mreg` image and the Git URL (`--target k8s`), after flags and the manifest's settings.
    public var image: String
    public var repository: String?
    /// The registry folder inside the repository ("" at the root), for the reconciler sidecar.
    public var registryPath: String
    public var mainBranch: String

    public init(manifest: Manifest, versions: [String: RenderedVersion], deployedIn: [String: String],
                versionURI: @escaping @Sendable (String, String) -> String?, image: String, repository: String?,
                registryPath: String, mainBranch: String) {
        self.manifest = manifest
        self.versions = versions
        self.deployedIn = deployedIn
        self.versionURI = versionURI
        self.image = image
        self.repository = repository
        self.registryPath = registryPath
        self.mainBranch = mainBranch
    }
}

/// Builds Kubernetes objects from a manifest: pure, so the same input gives byte-identical files.
public enum KubernetesRender {
    /// The label and annotation keys mreg sets.
    public static let labelModel = "mreg.dev/model"
    public static let labelVersion = "mreg.dev/version"
    public static let labelCanary = "mreg.dev/canary-version"
    public static let labelEnvironment = "mreg.dev/environment"
    public static let annotationCommit = "mreg.dev/registry-commit"
    public static let annotationCanaryWeight = "mreg.dev/canary-weight"

    /// The files of `target`, sorted by path, with a `kustomization.yaml` listing them.
    public static func render(_ input: RenderInput, target: RenderTarget) throws(RenderError) -> [RenderedFile] {
        var objects = [(path: String, node: YAMLNode)]()
        switch target {
        case .kserve:
            var usesMreg = false
            for name in try kubernetesNames(input.manifest) {
                let (node, runtime) = try inferenceService(input, model: name.model, objectName: name.object)
                objects.append(("inferenceservice-\(name.object).yaml", node))
                usesMreg = usesMreg || runtime == KServeServing.mregRuntime
            }
            if usesMreg { objects.append(("clusterservingruntime-mreg.yaml", mregServingRuntime(input))) }
        case .k8s:
            guard let repository = input.repository else {
                throw .invalid("--target k8s needs the Git URL the reconciler follows: --repo URL or kubernetes.repository in \(Manifest.path(input.manifest.environment))")
            }
            let name = try objectName("mreg-" + input.manifest.environment, what: "environment")
            objects.append(("deployment-\(name).yaml", deployment(input, name: name, repository: repository)))
            objects.append(("service-\(name).yaml", service(input, name: name)))
        }
        objects.sort { $0.path < $1.path }
        let header = "# Rendered by `mreg render --env \(input.manifest.environment) --target \(target.rawValue)` from \(Manifest.path(input.manifest.environment)) on \(input.mainBranch); edits here are overwritten.\n"
        var files = objects.map { RenderedFile(path: $0.path, text: header + $0.node.render()) }
        let kustomization = YAMLNode.map([
            ("apiVersion", .string("kustomize.config.k8s.io/v1beta1")), ("kind", .string("Kustomization")),
            ("resources", .list(objects.map { .string($0.path) })),
        ])
        files.append(RenderedFile(path: kustomizationFile, text: header + kustomization.render()))
        return files.sorted { $0.path < $1.path }
    }

    public static let kustomizationFile = "kustomization.yaml"

    /// A model name as a Kubernetes object name (RFC 1035: a-z 0-9 -, starting with a letter).
    static func objectName(_ name: String, what: String) throws(RenderError) -> String {
        var s = String(name.map { $0 == "." || $0 == "_" ? "-" : $0 })
        if let first = s.first, !first.isLetter { s = "m-" + s }
        while s.hasSuffix("-") { s.removeLast() }
        guard s.count <= 63, KubernetesSettings.isValidName(s) else {
            throw .invalid("\(what) '\(name)' does not make a Kubernetes name ('\(s)' is longer than 63 or not a-z 0-9 -)")
        }
        return s
    }

    private static func kubernetesNames(_ manifest: Manifest) throws(RenderError) -> [(model: String, object: String)] {
        var seen = [String: String]()
        var out = [(model: String, object: String)]()
        for model in manifest.models.keys.sorted() {
            let object = try objectName(model, what: "model")
            if let other = seen[object] { throw .invalid("models '\(other)' and '\(model)' both become the Kubernetes name '\(object)'") }
            seen[object] = model
            out.append((model, object))
        }
        return out
    }

    /// A label value: at most 63 of A-Z a-z 0-9 - _ . beginning and ending with a letter or digit.
    static func labelValue(_ s: String) -> String? {
        guard s.count <= 63, let first = s.first, let last = s.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber,
              s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else { return nil }
        return s
    }

    static func metadata(name: String, namespace: String?, labels: [(String, String)], annotations: [(String, String)]) -> YAMLNode {
        var pairs: [(String, YAMLNode)] = [("name", .string(name))]
        if let namespace { pairs.append(("namespace", .string(namespace))) }
        let allLabels = [("app.kubernetes.io/managed-by", "mreg")] + labels
        pairs.append(("labels", .map(allLabels.sorted { $0.0 < $1.0 }.map { ($0.0, .string($0.1)) })))
        if !annotations.isEmpty { pairs.append(("annotations", .map(annotations.sorted { $0.0 < $1.0 }.map { ($0.0, .string($0.1)) }))) }
        return .map(pairs)
    }
}
