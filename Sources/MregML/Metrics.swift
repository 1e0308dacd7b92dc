import Foundation

/// Classification metrics with the confusion matrix they come from.
public struct ClassificationReport: Sendable, Equatable {
    /// Metric name -> value; see `Metrics.classification` for the names and edge cases.
    public var metrics: [String: Double]
    /// Rows are true classes, columns predicted classes, both in class-index order.
    public var confusionMatrix: [[Int]]
}

/// Evaluation metrics, defined like scikit-learn's where one exists.
public enum Metrics {
    /// Probabilities are clipped to [eps, 1 - eps] for `log_loss`.
    public static let logLossEpsilon = 1e-15

    /// Accuracy, balanced accuracy, macro precision/recall/F1, log loss and (binary) ROC AUC.
    ///
    /// - `truth`, `predicted`: class indices; indices may reach past `classCount` (a label the model
    ///   does not know), which widens the confusion matrix.
    /// - `probabilities`: row-major `rows x classCount`, or nil to skip `log_loss` and `roc_auc`.
    /// - Macro averages run over the labels that occur in `truth` or `predicted`; a precision or recall
    ///   whose denominator is 0 counts as 0 (scikit-learn's `zero_division=0`), and so does such an F1.
    /// - `balanced_accuracy` averages recall over the labels present in `truth` only.
    /// - `roc_auc` is given only for two classes when both occur in `truth`; the score is the
    ///   probability of class 1, ties count half.
    /// - No rows give no metrics.
    public static func classification(
        truth: [Int], predicted: [Int], probabilities: [Double]?, classCount: Int
    ) -> ClassificationReport {
        let n = min(truth.count, predicted.count)
        var labels = classCount
        for i in 0..<n { labels = max(labels, truth[i] + 1, predicted[i] + 1) }
        var cm = [[Int]](repeating: [Int](repeating: 0, count: labels), count: labels)
        for i in 0..<n where truth[i] >= 0 && predicted[i] >= 0 { cm[truth[i]][predicted[i]] += 1 }
        guard n > 0 else { return ClassificationReport(metrics: [:], confusionMatrix: cm) }

        var correct = 0
        var rowSums = [Int](repeating: 0, count: labels)
        var colSums = [Int](repeating: 0, count: labels)
        for t in 0..<labels {
            correct += cm[t][t]
            for p in 0..<labels {
                rowSums[t] += cm[t][p]
                colSums[p] += cm[t][p]
            }
        }
        var precision = 0.0, recall = 0.0, f1 = 0.0, balanced = 0.0
        var present = 0, inTruth = 0
        for k in 0..<labels where rowSums[k] > 0 || colSums[k] > 0 {
            present += 1
            let tp = Double(cm[k][k])
            let fp = Double(colSums[k]) - tp
            let fn = Double(rowSums[k]) - tp
            precision += colSums[k] > 0 ? tp / Double(colSums[k]) : 0
            let r = rowSums[k] > 0 ? tp / Double(rowSums[k]) : 0
            recall += r
            f1 += (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0
            if rowSums[k] > 0 {
                inTruth += 1
                balanced += r
            }
        }
        var metrics: [String: Double] = [
            "accuracy": Double(correct) / Double(n),
            "balanced_accuracy": balanced / Double(max(inTruth, 1)),
            "precision_macro": precision / Double(present),
            "recall_macro": recall / Double(present),
            "f1_macro": f1 / Double(present),
        ]
        if let probabilities, classCount > 0, probabilities.count >= n * classCount {
            var loss = 0.0
            for i in 0..<n {
                let t = truth[i]
                let p = t >= 0 && t < classCount ? probabilities[i * classCount + t] : 0
                loss -= Foundation.log(min(max(p, logLossEpsilon), 1 - logLossEpsilon))
            }
            metrics["log_loss"] = loss / Double(n)
            if classCount == 2, labels == 2, rowSums[0] > 0, rowSums[1] > 0 {
                let scores = (0..<n).map { probabilities[$0 * 2 + 1] }
                metrics["roc_auc"] = rocAUC(positive: truth.prefix(n).map { $0 == 1 }, scores: scores)
            }
        }
        return ClassificationReport(metrics: metrics, confusionMatrix: cm)
    }

    /// Area under the ROC curve by the rank-sum (Mann-Whitney) formula with average ranks for ties;
    /// NaN when either class is absent.
    public static func rocAUC(positive: [Bool], scores: [Double]) -> Double {
        let n = min(positive.count, scores.count)
        let order = (0..<n).sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var rankSum = 0.0
        var positives = 0.0
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n, scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            for k in i...j where positive[order[k]] {
                rankSum += averageRank
                positives += 1
            }
            i = j + 1
        }
        let negatives = Double(n) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// RMSE, MAE and R².
    ///
    /// R² is `1 - SS_res / SS_tot`; when the truth has no variance it is 1 for exact predictions and 0
    /// otherwise (scikit-learn's `force_finite`). No rows give no metrics.
    public static func regression(truth: [Double], predicted: [Double]) -> [String: Double] {
        let n = min(truth.count, predicted.count)
        guard n > 0 else { return [:] }
        var mean = 0.0
        for i in 0..<n { mean += truth[i] }
        mean /= Double(n)
        var squared = 0.0, absolute = 0.0, total = 0.0
        for i in 0..<n {
            let e = truth[i] - predicted[i]
            squared += e * e
            absolute += abs(e)
            total += (truth[i] - mean) * (truth[i] - mean)
        }
        let r2: Double
        if total == 0 {
            r2 = squared == 0 ? 1 : 0
        } else {
            r2 = 1 - squared / total
        }
        return ["rmse": (squared / Double(n)).squareRoot(), "mae": absolute / Double(n), "r2": r2]
    }
}
