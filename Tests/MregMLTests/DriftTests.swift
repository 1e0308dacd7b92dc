import Foundation
import MregCore
import Testing
@testable import MregML

@Suite struct DriftTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool { abs(a - b) <= tolerance }

    /// Quantiles of the uniform distribution on [0, 1]: F(x) = x.
    let uniform = (0...100).map { Double($0) / 100 }

    @Test func cdfFromQuantiles() {
        #expect(Drift.baselineCDF(-1, quantiles: uniform) == (0, 0))
        #expect(Drift.baselineCDF(2, quantiles: uniform) == (1, 1))
        let mid = Drift.baselineCDF(0.375, quantiles: uniform)
        #expect(close(mid.below, 0.375) && close(mid.atOrBelow, 0.375))
        // Ties make a jump: quantiles [0, 1, 1] put half the mass at 1.
        let tied = Drift.baselineCDF(1, quantiles: [0, 1, 1])
        #expect(close(tied.below, 0.5) && close(tied.atOrBelow, 1))
        #expect(close(Drift.baselineCDF(0.5, quantiles: [0, 1, 1]).atOrBelow, 0.25))
        // A single value: a step.
        #expect(Drift.baselineCDF(3, quantiles: [3, 3, 3]) == (0, 1))
    }

    @Test func ksDistanceByHand() {
        // ECDF of [0.1, 0.2, 0.9] against F(x) = x: the largest gap is 2/3 − 0.2 just after 0.2.
        #expect(close(Drift.ksDistance(sorted: [0.1, 0.2, 0.9], quantiles: uniform), 2.0 / 3 - 0.2))
        // Two values at the jump of [0, 1, 1]: F(1−) = 0.5 while the ECDF is still 0.
        #expect(close(Drift.ksDistance(sorted: [1, 1], quantiles: [0, 1, 1]), 0.5))
        #expect(close(Drift.ksDistance(sorted: [0.5], quantiles: [0, 1, 1]), 0.75))
        // Entirely outside the training range.
        #expect(close(Drift.ksDistance(sorted: [5, 6], quantiles: uniform), 1))
        #expect(Drift.ksDistance(sorted: [], quantiles: uniform) == 0)
        // A sample equal to the quantiles themselves is at most one step away.
        #expect(Drift.ksDistance(sorted: uniform, quantiles: uniform) <= 1.0 / 101 + 1e-12)
    }

    @Test func ksCriticalValue() {
        // c(0.01) = sqrt(−ln(0.005)/2) = 1.62762...; n 50, m 200: × sqrt(250 / 10000).
        #expect(close(Drift.ksCoefficient(alpha: 0.01), 1.6276236307187293, 1e-12))
        #expect(close(Drift.ksCriticalValue(alpha: 0.01, n: 50, m: 200), 0.2573498923291993, 1e-12))
        // A huge window is still held to the baseline's own noise.
        #expect(Drift.ksCriticalValue(alpha: 0.01, n: 1_000_000, m: 200) > Drift.ksCoefficient(alpha: 0.01) / 200.0.squareRoot())
        #expect(Drift.ksCriticalValue(alpha: 0.01, n: 0, m: 200) == .infinity)
    }

    @Test func psiByHand() {
        // (0.25 − 0.5)·ln(0.5) + (0.75 − 0.5)·ln(1.5)
        #expect(close(Drift.psi(expected: [50, 50], actual: [25, 75]), 0.2746530721670274))
        #expect(Drift.psi(expected: [10, 30], actual: [1, 3]) == 0)
        // An empty baseline bin is floored at 0.0001.
        #expect(close(Drift.psi(expected: [100, 0], actual: [50, 50]), 0.5 * log(2) + 0.4999 * log(5000)))
    }

    @Test func binCountsUseBaselineEdges() {
        #expect(Drift.binCounts([-5, 0, 0.5, 1, 1.5, 2, 9], edges: [0, 1, 2]) == [3, 4])
        #expect(Drift.binCounts([1, 2, .nan], edges: [4, 4]) == [2])
    }

    @Test func jensenShannonByHand() {
        #expect(close(Drift.jensenShannonDistance([1, 0], [0, 1]), 1))
        #expect(Drift.jensenShannonDistance([2, 6], [1, 3]) == 0)
        // P = (½, ½), Q = (1, 0), M = (¾, ¼): ½·(½·log2(⅔) + ½·log2(2)) + ½·log2(4/3).
        let divergence = 0.5 * (0.5 * log2(2.0 / 3) + 0.5) + 0.5 * log2(4.0 / 3)
        #expect(close(Drift.jensenShannonDistance([1, 1], [1, 0]), divergence.squareRoot()))
    }

    @Test func chiSquareByHand() {
        // [[10, 20], [20, 10]]: every expected count 15, χ² = 4·25/15, one degree of freedom.
        let r = Drift.chiSquareHomogeneity([10, 20], [20, 10])
        #expect(close(r.statistic, 20.0 / 3) && r.degreesOfFreedom == 1)
        #expect(close(r.pValue, 0.009823274507519245, 1e-9))
        #expect(close(Drift.chiSquareSurvival(3.841458820694124, degreesOfFreedom: 1), 0.05, 1e-9))
        #expect(close(Drift.chiSquareSurvival(5, degreesOfFreedom: 2), exp(-2.5), 1e-12))
        #expect(close(Drift.chiSquareSurvival(18.307038053275146, degreesOfFreedom: 10), 0.05, 1e-9))
        #expect(close(Drift.chiSquareSurvival(0.5, degreesOfFreedom: 30), 1, 1e-9))
        // Categories seen on one side only still count; a category in neither does not.
        let unseen = Drift.chiSquareHomogeneity([30, 0, 0], [0, 30, 0])
        #expect(unseen.degreesOfFreedom == 1 && close(unseen.statistic, 60))
        #expect(Drift.chiSquareHomogeneity([5], [7]).pValue == 1)
    }

    func numericBaseline(_ values: [Double], missing: Int = 0) throws -> FeatureBaseline {
        let json = Baseline.numeric(name: "x", values: values + Array(repeating: .nan, count: missing))
        let file: JSONValue = ["schemaVersion": 1, "format": "mreg-baseline", "rows": .number(Double(values.count + missing)), "features": [json]]
        return try BaselineFile(data: file.encoded(), file: "baseline.json").features[0]
    }

    @Test func numericChecks() throws {
        var g = SeededGenerator(seed: 7)
        let train = (0..<500).map { _ in Double.random(in: 0..<10, using: &g) }
        let baseline = try numericBaseline(train, missing: 5)
        let t = DriftThresholds()
        let same = Drift.checkNumeric(baseline, sorted: Drift.sorted((0..<200).map { _ in Double.random(in: 0..<10, using: &g) }), missing: 2, thresholds: t)
        #expect(same.status == .ok)
        #expect(same.checks.map(\.name) == ["ks", "meanShift", "psi", "outOfRange", "missingRate"])
        // +1σ (σ of U(0, 10) is 2.89): the mean shift and KS both fire.
        let shifted = Drift.checkNumeric(baseline, sorted: Drift.sorted((0..<200).map { _ in Double.random(in: 3..<13, using: &g) }), missing: 0, thresholds: t)
        #expect(shifted.status == .drift)
        #expect(Set(shifted.failed.map(\.name)) == ["ks", "meanShift"])
        #expect(shifted.checks.first { $0.name == "outOfRange" }!.value > 0.2)
        // Mostly missing: the missing rate fires.
        let holes = Drift.checkNumeric(baseline, sorted: Drift.sorted((0..<40).map { _ in Double.random(in: 0..<10, using: &g) }), missing: 20, thresholds: t)
        #expect(holes.failed.map(\.name) == ["missingRate"])
        // Too few rows: neither pass nor fail.
        let few = Drift.checkNumeric(baseline, sorted: [1, 2, 3], missing: 0, thresholds: t)
        #expect(few.status == .insufficient && few.checks.isEmpty)
    }

    @Test func categoricalChecks() {
        let baseline = FeatureBaseline(name: "island", count: 300, missing: 0, kind: .categorical(["a": 150, "b": 100, "c": 50]))
        let t = DriftThresholds()
        let same = Drift.checkCategorical(baseline, live: ["a": 26, "b": 15, "c": 9], missing: 0, thresholds: t)
        #expect(same.status == .ok)
        // A large JS distance on 30 rows that chi-square finds plausible is not drift.
        let noisy = Drift.checkCategorical(baseline, live: ["a": 10, "b": 14, "c": 6], missing: 0, thresholds: t)
        #expect(noisy.checks.first { $0.name == "jensenShannon" }!.value > t.jsMax)
        #expect(noisy.status == .ok)
        let moved = Drift.checkCategorical(baseline, live: ["a": 10, "b": 20, "c": 60, "zzz": 10], missing: 0, thresholds: t)
        #expect(moved.status == .drift)
        #expect(moved.failed.map(\.name) == ["jensenShannon"])
        #expect(close(moved.checks.first { $0.name == "unseen" }!.value, 0.1))
        #expect(moved.bins.map(\.label) == ["a", "b", "c", "zzz"])
    }

    @Test func baselineFileErrors() {
        #expect(throws: MLError.self) { try BaselineFile(data: Data("{}".utf8), file: "b.json") }
        #expect(throws: MLError.self) { try BaselineFile(data: Data("not json".utf8), file: "b.json") }
        let bad: JSONValue = ["schemaVersion": 1, "format": "mreg-baseline", "features": [["name": "x", "type": "numeric", "count": 3, "missing": 0]]]
        #expect(throws: MLError.self) { try BaselineFile(data: bad.encoded(), file: "b.json") }
    }
}
