/// A canary: a second version that receives `weight` percent of the requests without an explicit version.
public struct Canary: Sendable, Equatable {
    public var version: String
    public var weight: Int

    public init(version: String, weight: Int) {
        self.version = version
        self.weight = weight
    }
}

/// What an environment serves of one model.
public struct Deployment: Sendable, Equatable {
    public var version: String
    public var canary: Canary?
    /// The hosts that serve it; nil means every host of the environment.
    public var hosts: [String]?
    /// Replicas, autoscaling, resources and runtime for `mreg render`; hosts ignore them.
    public var kubernetes: ModelKubernetesSettings?

    public init(version: String, canary: Canary? = nil, hosts: [String]? = nil, kubernetes: ModelKubernetesSettings? = nil) {
        self.version = version
        self.canary = canary
        self.hosts = hosts
        self.kubernetes = kubernetes
    }

    /// True when `host` is one of the hosts that must serve this model.
    public func servedBy(host: String) -> Bool { hosts.map { $0.contains(host) } ?? true }
}

/// `deploy/ENV.yaml`: which version of each model an environment serves.
public struct Manifest: Sendable, Equatable {
    public var environment: String
    /// A manifest that would leave a host with nothing to serve is refused unless this is set.
    public var allowEmpty: Bool
    public var models: [String: Deployment]
    /// Namespace, image and the like for `mreg render`; hosts ignore them.
    public var kubernetes: KubernetesSettings?

    public init(environment: String, allowEmpty: Bool = false, models: [String: Deployment] = [:],
                kubernetes: KubernetesSettings? = nil) {
        self.environment = environment
        self.allowEmpty = allowEmpty
        self.models = models
        self.kubernetes = kubernetes
    }

    /// The path of an environment's manifest, relative to the registry.
    public static func path(_ environment: String) -> String { "deploy/\(environment).yaml" }

    public static func parse(_ text: String, file: String, expectedEnvironment: String? = nil) throws(CoreError) -> Manifest {
        var f = try Fields(try YAML.parse(text, file: file), file: file)
        try f.schemaVersion(1)
        let environment = try f.string("environment")
        if let expectedEnvironment, environment != expectedEnvironment {
            throw f.error("environment", "is '\(environment)' but the file is for '\(expectedEnvironment)'")
        }
        let allowEmpty = try f.bool("allowEmpty", default: false)
        var models = [String: Deployment]()
        if var section = try f.optionalObject("models") {
            for name in section.allKeys() {
                guard Names.isValidModelName(name) else {
                    throw section.error(name, "is not a valid model name (1-64 of a-z 0-9 . _ -)")
                }
                var d = try section.object(name)
                let version = try d.string("version")
                guard Names.versionNumber(version) != nil else { throw d.error("version", "'\(version)' is not a version (v1, v2, ...)") }
                var canary: Canary?
                if var c = try d.optionalObject("canary") {
                    let cv = try c.string("version")
                    guard Names.versionNumber(cv) != nil else { throw c.error("version", "'\(cv)' is not a version (v1, v2, ...)") }
                    let weight = try c.int("weight")
                    guard (0...100).contains(weight) else { throw c.error("weight", "must be between 0 and 100, found \(weight)") }
                    guard cv != version else { throw c.error("version", "is the same as the stable version '\(version)'") }
                    try c.finish()
                    canary = Canary(version: cv, weight: weight)
                }
                var hosts: [String]?
                if d.has("hosts") {
                    var list = [String]()
                    for h in try d.stringList("hosts") {
                        do { list.append(try Names.host(h)) } catch { throw d.error("hosts", "'\(h)' is not a valid host name") }
                    }
                    hosts = list
                }
                var kubernetes: ModelKubernetesSettings?
                if var k = try d.optionalObject("kubernetes") { kubernetes = try ModelKubernetesSettings.read(&k) }
                try d.finish()
                models[name] = Deployment(version: version, canary: canary, hosts: hosts, kubernetes: kubernetes)
            }
        }
        var kubernetes: KubernetesSettings?
        if var k = try f.optionalObject("kubernetes") { kubernetes = try KubernetesSettings.read(&k) }
        try f.finish()
        return Manifest(environment: environment, allowEmpty: allowEmpty, models: models, kubernetes: kubernetes)
    }

    /// The YAML text, models sorted by name.
    public func render() -> String {
        var modelPairs = [(String, YAMLNode)]()
        for name in models.keys.sorted() {
            let d = models[name]!
            var pairs: [(String, YAMLNode)] = [("version", .string(d.version))]
            if let c = d.canary { pairs.append(("canary", .map([("version", .string(c.version)), ("weight", .int(c.weight))]))) }
            if let h = d.hosts { pairs.append(("hosts", .list(h.map { .string($0) }))) }
            if let k = d.kubernetes { pairs.append(("kubernetes", k.yaml)) }
            modelPairs.append((name, .map(pairs)))
        }
        var doc: [(String, YAMLNode)] = [("schemaVersion", .int(1)), ("environment", .string(environment))]
        if allowEmpty { doc.append(("allowEmpty", .bool(true))) }
        if let k = kubernetes { doc.append(("kubernetes", k.yaml)) }
        doc.append(("models", .map(modelPairs)))
        return YAMLNode.map(doc).render()
    }
}
