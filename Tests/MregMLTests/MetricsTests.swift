import Foundation
import Testing
@testable import MregML

@Suite struct MetricsTests {
    func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance
    }

    @Test func multiclassByHand() {
        // Confusion: [[1,1,0],[0,2,0],[1,0,1]].
        let report = Metrics.classification(truth: [0, 0, 1, 1, 2, 2], predicted: [0, 1, 1, 1, 2, 0], probabilities: nil, classCount: 3)
        #expect(report.confusionMatrix == [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
        let m = report.metrics
        #expect(close(m["accuracy"], 4.0 / 6))
        #expect(close(m["precision_macro"], (0.5 + 2.0 / 3 + 1) / 3))
        #expect(close(m["recall_macro"], (0.5 + 1 + 0.5) / 3))
        #expect(close(m["f1_macro"], (0.5 + 0.8 + 2.0 / 3) / 3))
        #expect(close(m["balanced_accuracy"], (0.5 + 1 + 0.5) / 3))
        #expect(m["log_loss"] == nil)
        #expect(m["roc_auc"] == nil)
    }

    @Test func binaryLogLossAndAUC() {
        let p1 = [0.1, 0.8, 0.4, 0.3]
        let probabilities = p1.flatMap { [1 - $0, $0] }
        let m = Metrics.classification(truth: [0, 1, 1, 0], predicted: [0, 1, 0, 0], probabilities: probabilities, classCount: 2).metrics
        let expected = -(Foundation.log(0.9) + Foundation.log(0.8) + Foundation.log(0.4) + Foundation.log(0.7)) / 4
        #expect(close(m["log_loss"], expected))
        #expect(close(m["roc_auc"], 1))
        #expect(close(m["accuracy"], 0.75))
    }

    @Test func aucCountsTiesAsHalf() {
        #expect(close(Metrics.rocAUC(positive: [false, true, false, true], scores: [0.5, 0.5, 0.2, 0.9]), 0.875))
        #expect(Metrics.rocAUC(positive: [true, true], scores: [0.1, 0.2]).isNaN)
    }

    @Test func classNeverPredictedCountsAsZero() {
        let report = Metrics.classification(truth: [0, 0, 1, 1], predicted: [0, 0, 0, 0], probabilities: nil, classCount: 2)
        let m = report.metrics
        #expect(close(m["accuracy"], 0.5))
        #expect(close(m["precision_macro"], 0.25))
        #expect(close(m["recall_macro"], 0.5))
        #expect(close(m["f1_macro"], (2.0 / 3 + 0) / 2))
        #expect(close(m["balanced_accuracy"], 0.5))
    }

    @Test func singleClassInTruth() {
        let probabilities = [0.2, 0.8, 0.6, 0.4, 0.1, 0.9]
        let m = Metrics.classification(truth: [1, 1, 1], predicted: [1, 0, 1], probabilities: probabilities, classCount: 2).metrics
        #expect(close(m["precision_macro"], 0.5))
        #expect(close(m["recall_macro"], (0 + 2.0 / 3) / 2))
        #expect(close(m["balanced_accuracy"], 2.0 / 3))
        #expect(m["roc_auc"] == nil)
        #expect(close(m["log_loss"], -(Foundation.log(0.8) + Foundation.log(0.4) + Foundation.log(0.9)) / 3))
    }

    @Test func logLossClipsCertainMistakes() {
        let m = Metrics.classification(truth: [0], predicted: [1], probabilities: [0, 1], classCount: 2).metrics
        #expect(close(m["log_loss"], -Foundation.log(Metrics.logLossEpsilon)))
    }

    @Test func labelsBeyondTheModelWidenTheMatrix() {
        let report = Metrics.classification(truth: [0, 2], predicted: [0, 1], probabilities: [0.9, 0.1, 0.3, 0.7], classCount: 2)
        #expect(report.confusionMatrix == [[1, 0, 0], [0, 0, 0], [0, 1, 0]])
        #expect(close(report.metrics["log_loss"], (-Foundation.log(0.9) - Foundation.log(Metrics.logLossEpsilon)) / 2))
        #expect(report.metrics["roc_auc"] == nil)
    }

    @Test func noRowsGiveNoMetrics() {
        #expect(Metrics.classification(truth: [], predicted: [], probabilities: [], classCount: 2).metrics.isEmpty)
        #expect(Metrics.regression(truth: [], predicted: []).isEmpty)
    }

    @Test func regressionByHand() {
        let m = Metrics.regression(truth: [1, 2, 3, 4], predicted: [1.5, 2, 2.5, 5])
        #expect(close(m["rmse"], 0.375.squareRoot()))
        #expect(close(m["mae"], 0.5))
        #expect(close(m["r2"], 0.7))
    }

    @Test func r2WithConstantTruth() {
        #expect(Metrics.regression(truth: [3, 3, 3], predicted: [3, 3, 3])["r2"] == 1)
        #expect(Metrics.regression(truth: [3, 3, 3], predicted: [3, 3, 4])["r2"] == 0)
    }
}
