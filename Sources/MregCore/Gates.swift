/// One metric bound of a gate: absolute `min`/`max`, and against the champion `max_drop`/`min_gain`.
public struct MetricRule: Sendable, Equatable {
    public var metric: String
    public var min: Double?
    public var max: Double?
    public var maxDrop: Double?
    public var minGain: Double?

    public init(metric: String, min: Double? = nil, max: Double? = nil, maxDrop: Double? = nil, minGain: Double? = nil) {
        self.metric = metric
        self.min = min
        self.max = max
        self.maxDrop = maxDrop
        self.minGain = minGain
    }
}

/// Non-metric conditions a version must meet.
public enum Requirement: String, Sendable, Equatable, CaseIterable {
    case cardComplete = "card-complete"
}

/// The policy an environment applies before a version may be served there.
public struct Gates: Sendable, Equatable {
    /// Rules for every task.
    public var metrics: [MetricRule]
    /// Rules only for classification models.
    public var classification: [MetricRule]
    /// Rules only for regression models.
    public var regression: [MetricRule]
    public var require: [Requirement]

    public init(metrics: [MetricRule] = [], classification: [MetricRule] = [], regression: [MetricRule] = [], require: [Requirement] = []) {
        self.metrics = metrics
        self.classification = classification
        self.regression = regression
        self.require = require
    }

    /// The rules that apply to a model of `task` (nil: unknown task, only the task-free rules).
    public func rules(forTask task: String?) -> [MetricRule] {
        switch task {
        case "classification": return metrics + classification
        case "regression": return metrics + regression
        default: return metrics
        }
    }

    /// True when a lower value of `metric` is better (errors and losses).
    public static func lowerIsBetter(_ metric: String) -> Bool {
        ["rmse", "mae", "mse", "log_loss", "mape"].contains(metric)
    }

    static func read(_ f: inout Fields) throws(CoreError) -> Gates {
        var gates = Gates()
        gates.metrics = try readRules(&f, "metrics")
        gates.classification = try readRules(&f, "classification")
        gates.regression = try readRules(&f, "regression")
        for (i, name) in try f.stringList("require").enumerated() {
            guard let r = Requirement(rawValue: name) else {
                throw f.error("require[\(i)]", "'\(name)' is not a known requirement (known: \(Requirement.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            gates.require.append(r)
        }
        try f.finish()
        return gates
    }

    private static func readRules(_ f: inout Fields, _ key: String) throws(CoreError) -> [MetricRule] {
        guard var section = try f.optionalObject(key) else { return [] }
        var rules = [MetricRule]()
        for metric in section.allKeys() {
            var r = try section.object(metric)
            let rule = MetricRule(
                metric: metric, min: try r.optionalDouble("min"), max: try r.optionalDouble("max"),
                maxDrop: try r.optionalDouble("max_drop"), minGain: try r.optionalDouble("min_gain"))
            if let d = rule.maxDrop, d < 0 { throw r.error("max_drop", "must not be negative") }
            try r.finish()
            rules.append(rule)
        }
        return rules
    }

    var yaml: YAMLNode {
        var pairs = [(String, YAMLNode)]()
        if !require.isEmpty { pairs.append(("require", .list(require.map { .string($0.rawValue) }))) }
        for (key, rules) in [("metrics", metrics), ("classification", classification), ("regression", regression)] where !rules.isEmpty {
            pairs.append((key, .map(rules.map { rule in
                var r = [(String, YAMLNode)]()
                if let v = rule.min { r.append(("min", .number(v))) }
                if let v = rule.max { r.append(("max", .number(v))) }
                if let v = rule.maxDrop { r.append(("max_drop", .number(v))) }
                if let v = rule.minGain { r.append(("min_gain", .number(v))) }
                return (rule.metric, .map(r))
            })))
        }
        return .map(pairs)
    }
}
