/// One environment of `mreg.yaml`, in promotion order.
public struct EnvironmentConfig: Sendable, Equatable {
    public var name: String
    /// The environment a version must have been served in first; nil when none is required.
    public var promoteFrom: String?
    public var gates: Gates
    /// Whether a change may pass failing gates when its commit carries an `Mreg-Forced` trailer with
    /// a reason; nil in the file means the default (`defaultAllowForce`).
    public var allowForce: Bool?

    public init(name: String, promoteFrom: String? = nil, gates: Gates = Gates(), allowForce: Bool? = nil) {
        self.name = name
        self.promoteFrom = promoteFrom
        self.gates = gates
        self.allowForce = allowForce
    }

    /// An environment named `production` refuses forced changes unless it says `allowForce: true`;
    /// every other environment allows them unless it says `allowForce: false`.
    public var forceAllowed: Bool { allowForce ?? (name != "production") }
}

/// Drift and live-accuracy thresholds for `mreg monitor` (the `monitoring:` section).
public struct MonitoringConfig: Sendable, Equatable {
    /// A feature drifts when its mean moves more than this many baseline standard deviations.
    public var kSigma: Double = 1.0
    /// Significance level of the Kolmogorov–Smirnov test against the baseline quantiles.
    public var ksAlpha: Double = 0.01
    /// Significance level of the chi-square test of a categorical feature's frequencies.
    public var chiSquareAlpha: Double = 0.01
    /// Largest Jensen–Shannon distance (base 2) of a categorical feature's frequencies.
    public var jsMax: Double = 0.1
    /// Largest increase of a feature's missing rate.
    public var missingRateIncrease: Double = 0.1
    /// The dataset drifts when at least this share of its features drift.
    public var driftShare: Double = 0.5
    /// Windows with fewer rows report insufficient data.
    public var minRows: Int = 30
    /// Lowest acceptable live accuracy (classification).
    public var accuracyFloor: Double? = 0.8
    /// Highest acceptable live RMSE (regression); nil: not checked.
    public var rmseCeiling: Double? = nil
    /// A command run when drift or low accuracy is found (see `mreg monitor --on-drift`).
    public var retrain: String? = nil

    public init() {}

    static func read(_ f: inout Fields) throws(CoreError) -> MonitoringConfig {
        var m = MonitoringConfig()
        m.kSigma = try f.optionalDouble("kSigma") ?? m.kSigma
        m.ksAlpha = try f.optionalDouble("ksAlpha") ?? m.ksAlpha
        m.chiSquareAlpha = try f.optionalDouble("chiSquareAlpha") ?? m.chiSquareAlpha
        m.jsMax = try f.optionalDouble("jsMax") ?? m.jsMax
        m.missingRateIncrease = try f.optionalDouble("missingRateIncrease") ?? m.missingRateIncrease
        m.driftShare = try f.optionalDouble("driftShare") ?? m.driftShare
        m.minRows = try f.optionalInt("minRows") ?? m.minRows
        m.accuracyFloor = f.has("accuracyFloor") ? try f.optionalDouble("accuracyFloor") : m.accuracyFloor
        m.rmseCeiling = try f.optionalDouble("rmseCeiling")
        m.retrain = try f.optionalString("retrain")
        guard m.kSigma > 0 else { throw f.error("kSigma", "must be greater than 0") }
        guard m.ksAlpha > 0 && m.ksAlpha < 1 else { throw f.error("ksAlpha", "must be between 0 and 1") }
        guard m.chiSquareAlpha > 0 && m.chiSquareAlpha < 1 else { throw f.error("chiSquareAlpha", "must be between 0 and 1") }
        guard m.jsMax >= 0 && m.jsMax <= 1 else { throw f.error("jsMax", "must be in [0, 1]") }
        guard m.missingRateIncrease >= 0 && m.missingRateIncrease <= 1 else { throw f.error("missingRateIncrease", "must be in [0, 1]") }
        guard m.driftShare > 0 && m.driftShare <= 1 else { throw f.error("driftShare", "must be in (0, 1]") }
        guard m.minRows >= 1 else { throw f.error("minRows", "must be at least 1") }
        try f.finish()
        return m
    }

    var yaml: YAMLNode {
        var pairs: [(String, YAMLNode)] = [
            ("kSigma", .number(kSigma)), ("ksAlpha", .number(ksAlpha)),
            ("chiSquareAlpha", .number(chiSquareAlpha)), ("jsMax", .number(jsMax)),
            ("missingRateIncrease", .number(missingRateIncrease)), ("driftShare", .number(driftShare)),
            ("minRows", .int(minRows)),
        ]
        pairs.append(("accuracyFloor", accuracyFloor.map { .number($0) } ?? .null))
        if let rmseCeiling { pairs.append(("rmseCeiling", .number(rmseCeiling))) }
        if let retrain { pairs.append(("retrain", .string(retrain))) }
        return .map(pairs)
    }
}

/// `mreg.yaml`: the registry's name, main branch, environments in promotion order with their gates,
/// monitoring thresholds, and the artifact store.
public struct RegistryConfig: Sendable, Equatable {
    public static let fileName = "mreg.yaml"
    public var name: String
    public var mainBranch: String
    public var environments: [EnvironmentConfig]
    public var monitoring: MonitoringConfig
    /// Where large files live instead of Git; nil: every file is committed.
    public var store: StoreConfig?

    public init(name: String, mainBranch: String = "main", environments: [EnvironmentConfig],
                monitoring: MonitoringConfig = MonitoringConfig(), store: StoreConfig? = nil) {
        self.name = name
        self.mainBranch = mainBranch
        self.environments = environments
        self.monitoring = monitoring
        self.store = store
    }

    /// The configuration `mreg init` writes: staging then production, with the default gates.
    public static func defaults(name: String) -> RegistryConfig {
        RegistryConfig(
            name: name,
            environments: [
                EnvironmentConfig(
                    name: "staging",
                    gates: Gates(
                        classification: [MetricRule(metric: "accuracy", min: 0.70)],
                        regression: [MetricRule(metric: "r2", min: 0.0)])),
                EnvironmentConfig(
                    name: "production", promoteFrom: "staging",
                    gates: Gates(
                        classification: [MetricRule(metric: "accuracy", min: 0.85, maxDrop: 0.01)],
                        regression: [MetricRule(metric: "r2", min: 0.3, maxDrop: 0.01)],
                        require: [.cardComplete])),
            ])
    }

    /// The environment called `name`, if configured.
    public func environment(_ name: String) -> EnvironmentConfig? {
        environments.first { $0.name == name }
    }

    public static func parse(_ text: String, file: String = fileName) throws(CoreError) -> RegistryConfig {
        var f = try Fields(try YAML.parse(text, file: file), file: file)
        try f.schemaVersion(1)
        let name = try f.string("name")
        guard !name.isEmpty, name.count <= 200, !name.contains("\n") else { throw f.error("name", "must be one line of 1-200 characters") }
        let mainBranch = try f.optionalString("mainBranch") ?? "main"
        guard !mainBranch.isEmpty, !mainBranch.contains(" "), !mainBranch.contains(".."), !mainBranch.hasPrefix("-") else {
            throw f.error("mainBranch", "'\(mainBranch)' is not a valid branch name")
        }
        var environments = [EnvironmentConfig]()
        for var e in try f.objectList("environments") {
            let envName = try e.string("name")
            guard Names.isValidModelName(envName), Names.versionNumber(envName) == nil else {
                throw e.error("name", "'\(envName)' is not a valid environment name (1-64 of a-z 0-9 . _ -, not like a version)")
            }
            guard !environments.contains(where: { $0.name == envName }) else { throw e.error("name", "'\(envName)' appears twice") }
            // Absent: the previous environment in the list; null: none.
            var promoteFrom = environments.last?.name
            if e.has("promoteFrom") {
                promoteFrom = try e.optionalString("promoteFrom")
                if let p = promoteFrom, !environments.contains(where: { $0.name == p }) {
                    throw e.error("promoteFrom", "'\(p)' is not an environment listed before '\(envName)'")
                }
            }
            var gates = Gates()
            if var g = try e.optionalObject("gates") { gates = try Gates.read(&g) }
            let allowForce = try e.optionalBool("allowForce")
            try e.finish()
            environments.append(EnvironmentConfig(name: envName, promoteFrom: promoteFrom, gates: gates, allowForce: allowForce))
        }
        var monitoring = MonitoringConfig()
        if var m = try f.optionalObject("monitoring") { monitoring = try MonitoringConfig.read(&m) }
        var store: StoreConfig?
        if var s = try f.optionalObject("store") { store = try StoreConfig.read(&s) }
        try f.finish()
        return RegistryConfig(name: name, mainBranch: mainBranch, environments: environments, monitoring: monitoring, store: store)
    }

    /// The YAML text of this configuration.
    public func render() -> String {
        var envs = [YAMLNode]()
        var previous: String?
        for e in environments {
            var pairs: [(String, YAMLNode)] = [("name", .string(e.name))]
            if e.promoteFrom != previous { pairs.append(("promoteFrom", e.promoteFrom.map { .string($0) } ?? .null)) }
            if let allow = e.allowForce { pairs.append(("allowForce", .bool(allow))) }
            pairs.append(("gates", e.gates.yaml))
            envs.append(.map(pairs))
            previous = e.name
        }
        var pairs: [(String, YAMLNode)] = [
            ("schemaVersion", .int(1)), ("name", .string(name)), ("mainBranch", .string(mainBranch)),
            ("environments", .list(envs)), ("monitoring", monitoring.yaml),
        ]
        if let store { pairs.append(("store", store.yaml)) }
        return YAMLNode.map(pairs).render()
    }
}
