import Testing

@testable import MregCore

@Suite struct PolicyTests {
    let gates = Gates(
        metrics: [MetricRule(metric: "log_loss", max: 0.5)],
        classification: [MetricRule(metric: "accuracy", min: 0.85, maxDrop: 0.01), MetricRule(metric: "f1_macro", minGain: 0.02)],
        regression: [MetricRule(metric: "rmse", max: 10, maxDrop: 1)],
        require: [.cardComplete])

    func verdicts(_ input: GateInput) -> [String: Bool] {
        Dictionary(gates.check(input).map { ($0.rule, $0.passed) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func tiesPass() {
        let v = verdicts(GateInput(task: "classification", metrics: ["accuracy": 0.85, "f1_macro": 0.92, "log_loss": 0.5],
                                   champion: ("v1", ["accuracy": 0.86, "f1_macro": 0.90])))
        #expect(v["accuracy >= 0.85"] == true)
        #expect(v["log_loss <= 0.5"] == true)
        #expect(v["accuracy drop vs champion <= 0.01"] == true)  // 0.86 - 0.85 = 0.01, a tie
        #expect(v["f1_macro gain vs champion >= 0.02"] == true)  // 0.92 - 0.90 = 0.02, a tie
    }

    @Test func eachRuleFails() {
        let results = gates.check(GateInput(task: "classification", metrics: ["accuracy": 0.84, "f1_macro": 0.91, "log_loss": 0.51],
                                            champion: ("v1", ["accuracy": 0.90, "f1_macro": 0.90]), cardMissing: ["owner"]))
        let failed = results.filter { !$0.passed }.map(\.rule)
        #expect(failed == ["log_loss <= 0.5", "accuracy >= 0.85", "accuracy drop vs champion <= 0.01", "f1_macro gain vs champion >= 0.02", "card-complete"])
        #expect(results.first { $0.rule == "accuracy drop vs champion <= 0.01" }?.detail == "accuracy 0.84 vs v1 0.9: drop 0.06 > 0.01")
        #expect(results.first { $0.rule == "card-complete" }?.detail == "empty: owner")
    }

    @Test func lowerIsBetterMetricsFlipTheDirection() {
        let worse = gates.check(GateInput(task: "regression", metrics: ["rmse": 9.5, "log_loss": 0.1], champion: ("v1", ["rmse": 8.0])))
        #expect(worse.first { $0.rule.hasPrefix("rmse drop") }?.passed == false)  // 1.5 worse, max 1
        let better = gates.check(GateInput(task: "regression", metrics: ["rmse": 7.5, "log_loss": 0.1], champion: ("v1", ["rmse": 8.0])))
        #expect(better.first { $0.rule.hasPrefix("rmse drop") }?.passed == true)
        #expect(better.first { $0.rule == "rmse <= 10" }?.passed == true)
        // Classification rules do not apply to a regression model, and vice versa.
        #expect(!better.contains { $0.metric == "accuracy" })
    }

    @Test func missingMetricsFail() {
        let results = gates.check(GateInput(task: "classification", metrics: ["accuracy": 0.9, "log_loss": 0.1], champion: ("v1", ["accuracy": 0.9])))
        #expect(results.first { $0.rule == "f1_macro gain vs champion >= 0.02" }?.detail == "metric 'f1_macro' is missing")
        let championLacks = gates.check(GateInput(task: "classification", metrics: ["accuracy": 0.9, "f1_macro": 0.9, "log_loss": 0.1],
                                                  champion: ("v1", ["accuracy": 0.9])))
        #expect(championLacks.first { $0.rule.hasPrefix("f1_macro gain") }?.detail == "champion v1 has no 'f1_macro' to compare with")
        #expect(championLacks.first { $0.rule.hasPrefix("f1_macro gain") }?.passed == false)
    }

    @Test func firstModelIsJudgedOnAbsoluteRulesOnly() {
        let results = gates.check(GateInput(task: "classification", metrics: ["accuracy": 0.9, "f1_macro": 0.1, "log_loss": 0.1]))
        #expect(results.filter { $0.rule.contains("champion") }.allSatisfy { $0.passed && $0.detail.hasPrefix("no champion yet") })
        #expect(results.allSatisfy { $0.passed })
    }

    @Test func cardRequirement() {
        let noCard = gates.check(GateInput(task: nil, metrics: ["log_loss": 0.1], cardMissing: nil))
        #expect(noCard.first { $0.rule == "card-complete" }?.detail == "the version has no card.md")
        let mismatch = gates.check(GateInput(task: nil, metrics: ["log_loss": 0.1], cardMissing: [], cardMismatches: ["states accuracy = 0.9 but metrics.json has 0.8"]))
        #expect(mismatch.first { $0.rule == "card-complete" }?.passed == false)
        // No task recorded: the metrics show it (log loss: classification), so no rule is skipped...
        #expect(noCard.compactMap(\.metric) == ["log_loss", "accuracy", "accuracy", "f1_macro"])
        // ...and metrics that show no task leave only the task-free rules.
        let unknown = gates.check(GateInput(task: nil, metrics: ["custom_score": 1], cardMissing: nil))
        #expect(unknown.compactMap(\.metric) == ["log_loss"])
    }
}
