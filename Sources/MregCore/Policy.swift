/// The verdict of one gate rule.
public struct RuleResult: Sendable, Equatable {
    /// `accuracy >= 0.85`, `accuracy drop vs v2 <= 0.01`, `card-complete`, `promote from staging`.
    public var rule: String
    public var metric: String?
    public var value: Double?
    public var bound: Double?
    public var passed: Bool
    /// Why it failed or what it compared, for people.
    public var detail: String

    public init(rule: String, metric: String? = nil, value: Double? = nil, bound: Double? = nil, passed: Bool, detail: String) {
        self.rule = rule
        self.metric = metric
        self.value = value
        self.bound = bound
        self.passed = passed
        self.detail = detail
    }
}

/// What a candidate version brings to an environment's gates.
public struct GateInput: Sendable {
    public var task: String?
    /// The candidate's metrics on the evaluation data.
    public var metrics: [String: Double]
    /// The champion (what the environment serves on main) scored on the same data; nil for a first model.
    public var champion: (version: String, metrics: [String: Double])?
    /// Required card fields still empty (nil: the version has no card).
    public var cardMissing: [String]?
    /// Card metrics that disagree with metrics.json.
    public var cardMismatches: [String]

    public init(task: String?, metrics: [String: Double], champion: (version: String, metrics: [String: Double])? = nil,
                cardMissing: [String]? = [], cardMismatches: [String] = []) {
        self.task = task
        self.metrics = metrics
        self.champion = champion
        self.cardMissing = cardMissing
        self.cardMismatches = cardMismatches
    }
}

extension Gates {
    /// The task a version's metrics show when its record and model.yaml name none (a model
    /// registered from elsewhere): classification for accuracy, F1, AUC or log loss, regression for
    /// R², RMSE or MAE; nil when they show neither, so that no rule is silently skipped for a
    /// version that has the metrics to be judged.
    public static func inferTask(_ metrics: [String: Double]) -> String? {
        let keys = Set(metrics.keys)
        if !keys.isDisjoint(with: ["accuracy", "f1", "f1_macro", "f1_weighted", "roc_auc", "log_loss", "precision", "recall", "balanced_accuracy"]) {
            return "classification"
        }
        if !keys.isDisjoint(with: ["r2", "rmse", "mae", "mse", "mape"]) { return "regression" }
        return nil
    }

    /// Judges a candidate: one result per rule. Ties pass (`>=`, `<=`); a metric the rule names but the
    /// candidate lacks fails; champion rules are skipped (and say so) when there is no champion.
    public func check(_ input: GateInput) -> [RuleResult] {
        var results = [RuleResult]()
        for rule in rules(forTask: input.task ?? Gates.inferTask(input.metrics)) {
            let m = rule.metric
            let value = input.metrics[m]
            let lower = Gates.lowerIsBetter(m)
            func missing(_ what: String) {
                results.append(RuleResult(rule: what, metric: m, passed: false, detail: "metric '\(m)' is missing"))
            }
            if let bound = rule.min {
                let name = "\(m) >= \(JSONValue.format(bound))"
                if let value {
                    results.append(RuleResult(rule: name, metric: m, value: value, bound: bound, passed: value >= bound,
                                              detail: "\(m) \(fmt(value)) \(value >= bound ? ">=" : "<") \(fmt(bound))"))
                } else { missing(name) }
            }
            if let bound = rule.max {
                let name = "\(m) <= \(JSONValue.format(bound))"
                if let value {
                    results.append(RuleResult(rule: name, metric: m, value: value, bound: bound, passed: value <= bound,
                                              detail: "\(m) \(fmt(value)) \(value <= bound ? "<=" : ">") \(fmt(bound))"))
                } else { missing(name) }
            }
            for (kind, limit) in [("max_drop", rule.maxDrop), ("min_gain", rule.minGain)] {
                guard let limit else { continue }
                let name = kind == "max_drop" ? "\(m) drop vs champion <= \(JSONValue.format(limit))" : "\(m) gain vs champion >= \(JSONValue.format(limit))"
                guard let champion = input.champion else {
                    results.append(RuleResult(rule: name, metric: m, passed: true, detail: "no champion yet: judged on absolute rules only"))
                    continue
                }
                guard let value else {
                    missing(name)
                    continue
                }
                guard let theirs = champion.metrics[m] else {
                    results.append(RuleResult(rule: name, metric: m, value: value, passed: false,
                                              detail: "champion \(champion.version) has no '\(m)' to compare with"))
                    continue
                }
                // Gain is the improvement in the metric's good direction; drop is its negative.
                let gain = lower ? theirs - value : value - theirs
                if kind == "max_drop" {
                    let drop = -gain
                    let ok = drop <= limit + 1e-12
                    results.append(RuleResult(rule: name, metric: m, value: drop, bound: limit, passed: ok,
                                              detail: "\(m) \(fmt(value)) vs \(champion.version) \(fmt(theirs)): drop \(fmt(drop)) \(ok ? "<=" : ">") \(fmt(limit))"))
                } else {
                    let ok = gain >= limit - 1e-12
                    results.append(RuleResult(rule: name, metric: m, value: gain, bound: limit, passed: ok,
                                              detail: "\(m) \(fmt(value)) vs \(champion.version) \(fmt(theirs)): gain \(fmt(gain)) \(ok ? ">=" : "<") \(fmt(limit))"))
                }
            }
        }
        for requirement in require {
            switch requirement {
            case .cardComplete:
                var problems = [String]()
                if let missing = input.cardMissing {
                    if !missing.isEmpty { problems.append("empty: \(missing.joined(separator: ", "))") }
                } else {
                    problems.append("the version has no card.md")
                }
                problems += input.cardMismatches
                results.append(RuleResult(rule: "card-complete", passed: problems.isEmpty,
                                          detail: problems.isEmpty ? "owner, intended_use, limitations, license filled; metrics agree" : problems.joined(separator: "; ")))
            }
        }
        return results
    }
}

/// Four decimals, for gate details.
func fmt(_ d: Double) -> String {
    let scaled = (d * 10000).rounded() / 10000
    var s = String(scaled)
    if s.hasSuffix(".0") { s.removeLast(2) }
    return s
}
