import Foundation

/// Optional Kubernetes settings of one model in `deploy/ENV.yaml` (`models.NAME.kubernetes`), used by
/// `mreg render`: replicas, autoscaling, resources and the serving runtime. Hosts running
/// `mreg reconcile` ignore them.
public struct ModelKubernetesSettings: Sendable, Equatable {
    public var minReplicas: Int?
    public var maxReplicas: Int?
    /// What KServe scales on: cpu, memory, concurrency or rps.
    public var scaleMetric: String?
    public var scaleTarget: Int?
    /// `requests`/`limits` -> resource name -> quantity (`cpu: 500m`, `memory: 1Gi`).
    public var resources: [String: [String: String]]
    /// A serving runtime to use instead of the one chosen from the version's format.
    public var runtime: String?

    public init(minReplicas: Int? = nil, maxReplicas: Int? = nil, scaleMetric: String? = nil, scaleTarget: Int? = nil,
                resources: [String: [String: String]] = [:], runtime: String? = nil) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.scaleMetric = scaleMetric
        self.scaleTarget = scaleTarget
        self.resources = resources
        self.runtime = runtime
    }

    static let scaleMetrics = ["cpu", "memory", "concurrency", "rps"]

    static func read(_ f: inout Fields) throws(CoreError) -> ModelKubernetesSettings {
        var s = ModelKubernetesSettings()
        s.minReplicas = try KubernetesSettings.replicaCount(&f, "minReplicas")
        s.maxReplicas = try KubernetesSettings.replicaCount(&f, "maxReplicas")
        if let lo = s.minReplicas, let hi = s.maxReplicas, hi < lo {
            throw f.error("maxReplicas", "is \(hi), below minReplicas \(lo)")
        }
        if let metric = try f.optionalString("scaleMetric") {
            guard scaleMetrics.contains(metric) else {
                throw f.error("scaleMetric", "'\(metric)' is not one of \(scaleMetrics.joined(separator: ", "))")
            }
            s.scaleMetric = metric
        }
        if let target = try f.optionalInt("scaleTarget") {
            guard (1...1_000_000).contains(target) else { throw f.error("scaleTarget", "must be between 1 and 1000000") }
            s.scaleTarget = target
        }
        if var r = try f.optionalObject("resources") {
            for kind in r.allKeys() {
                guard kind == "requests" || kind == "limits" else { throw r.error(kind, "is not 'requests' or 'limits'") }
                var q = try r.object(kind)
                var quantities = [String: String]()
                for name in q.allKeys() { quantities[name] = try KubernetesSettings.quantity(&q, name) }
                try q.finish()
                s.resources[kind] = quantities
            }
            try r.finish()
        }
        if let runtime = try f.optionalString("runtime") {
            guard KubernetesSettings.isValidName(runtime) else {
                throw f.error("runtime", "'\(runtime)' is not a Kubernetes object name (a-z 0-9 -, at most 63)")
            }
            s.runtime = runtime
        }
        try f.finish()
        return s
    }

    var yaml: YAMLNode {
        var pairs = [(String, YAMLNode)]()
        if let v = minReplicas { pairs.append(("minReplicas", .int(v))) }
        if let v = maxReplicas { pairs.append(("maxReplicas", .int(v))) }
        if let v = scaleMetric { pairs.append(("scaleMetric", .string(v))) }
        if let v = scaleTarget { pairs.append(("scaleTarget", .int(v))) }
        if !resources.isEmpty {
            pairs.append(("resources", .map(resources.keys.sorted().map { kind in
                (kind, .map(resources[kind]!.keys.sorted().map { ($0, .string(resources[kind]![$0]!)) }))
            })))
        }
        if let v = runtime { pairs.append(("runtime", .string(v))) }
        return .map(pairs)
    }
}

/// Optional Kubernetes settings of a whole environment in `deploy/ENV.yaml` (top-level
/// `kubernetes:`), used by `mreg render`.
public struct KubernetesSettings: Sendable, Equatable {
    /// The namespace of every rendered object; nil leaves it to the applier (Argo CD, Flux, kubectl -n).
    public var namespace: String?
    /// The service account the pods run as (for KServe: the one holding the S3 credentials).
    public var serviceAccountName: String?
    /// The container image with the `mreg` binary (the mreg runtime and `--target k8s`).
    public var image: String?
    /// The Git URL the `--target k8s` reconciler sidecar follows.
    public var repository: String?
    /// Pods of the `--target k8s` Deployment.
    public var replicas: Int?

    public init(namespace: String? = nil, serviceAccountName: String? = nil, image: String? = nil,
                repository: String? = nil, replicas: Int? = nil) {
        self.namespace = namespace
        self.serviceAccountName = serviceAccountName
        self.image = image
        self.repository = repository
        self.replicas = replicas
    }

    static func read(_ f: inout Fields) throws(CoreError) -> KubernetesSettings {
        var s = KubernetesSettings()
        for key in ["namespace", "serviceAccountName"] {
            guard let v = try f.optionalString(key) else { continue }
            guard isValidName(v) || (key == "serviceAccountName" && isValidSubdomain(v)) else {
                throw f.error(key, "'\(v)' is not a Kubernetes name (a-z 0-9 -, at most 63)")
            }
            if key == "namespace" { s.namespace = v } else { s.serviceAccountName = v }
        }
        if let image = try f.optionalString("image") {
            guard !image.isEmpty, image.count <= 500, !image.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw f.error("image", "'\(image)' is not a container image reference")
            }
            s.image = image
        }
        if let repo = try f.optionalString("repository") {
            guard !repo.isEmpty, repo.count <= 2000, !repo.contains(where: { $0.isNewline }) else {
                throw f.error("repository", "must be one line")
            }
            s.repository = repo
        }
        s.replicas = try replicaCount(&f, "replicas")
        try f.finish()
        return s
    }

    var yaml: YAMLNode {
        var pairs = [(String, YAMLNode)]()
        if let v = namespace { pairs.append(("namespace", .string(v))) }
        if let v = serviceAccountName { pairs.append(("serviceAccountName", .string(v))) }
        if let v = image { pairs.append(("image", .string(v))) }
        if let v = repository { pairs.append(("repository", .string(v))) }
        if let v = replicas { pairs.append(("replicas", .int(v))) }
        return .map(pairs)
    }

    static func replicaCount(_ f: inout Fields, _ key: String) throws(CoreError) -> Int? {
        guard let n = try f.optionalInt(key) else { return nil }
        guard (0...10_000).contains(n) else { throw f.error(key, "must be between 0 and 10000, found \(n)") }
        return n
    }

    /// A resource quantity (`500m`, `1Gi`, `2`, `0.5`), given as a string or a number.
    static func quantity(_ f: inout Fields, _ key: String) throws(CoreError) -> String {
        guard isValidName(key) || isValidSubdomain(key.replacingOccurrences(of: "/", with: ".")) else {
            throw f.error(key, "is not a resource name")
        }
        let text: String
        switch f.value(key) {
        case .string(let s)?: text = s
        case .number(let d)?: text = JSONValue.format(d)
        default: throw f.error(key, "must be a quantity such as 500m or 1Gi")
        }
        guard text.range(of: #"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"#, options: .regularExpression) != nil else {
            throw f.error(key, "'\(text)' is not a quantity such as 500m or 1Gi")
        }
        return text
    }

    /// An RFC 1123 label: what Kubernetes accepts as a namespace, a runtime or an object name.
    public static func isValidName(_ s: String) -> Bool {
        s.count <= 63 && s.range(of: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", options: .regularExpression) != nil
    }

    static func isValidSubdomain(_ s: String) -> Bool {
        s.count <= 253 && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isValidName(String($0)) }
    }
}
