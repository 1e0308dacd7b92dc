import Foundation
import MregCore

/// One trained parameter set of a search.
public struct TrialRecord: Sendable, Equatable {
    /// The full resolved parameters.
    public var params: [String: JSONValue]
    /// Metrics on the validation rows (the training rows when there are none).
    public var validationMetrics: [String: Double]
    /// Wall-clock training and scoring time (never written to the artifact).
    public var seconds: Double
    /// Epochs (mlp), boosting iterations (gbdt) or solver iterations (logistic) actually run; nil for linear.
    public var iterations: Int?
}

/// The result of `train`: the best model, its artifact and baseline, and how the search went.
public struct TrainOutcome: Sendable {
    /// The task trained, given or inferred.
    public var task: Task
    /// The algorithm trained, given or the task's default.
    public var algorithm: Algorithm
    /// Input columns in schema order with their types.
    public var features: [FeatureSpec]
    /// Sorted class labels; nil for regression.
    public var classes: [String]?
    /// The best trial's full resolved params.
    public var params: [String: JSONValue]
    /// Every trial in the order run.
    public var trials: [TrialRecord]
    /// Index into `trials`.
    public var bestTrial: Int
    /// `model.json` content.
    public var artifact: JSONValue
    /// "validation" and "test" -> metric -> value (a part with no rows is left out).
    public var metrics: [String: [String: Double]]
    /// Confusion matrix on the test rows in class order; nil for regression or an empty test part.
    public var testConfusionMatrix: [[Int]]?
    /// `baseline.json` content.
    public var baseline: JSONValue
    /// Rows in "train", "validation", "test".
    public var splitSizes: [String: Int]
    /// The table rows (0-based data rows) of each part.
    public var split: DataSplit
    /// Rows left out because their target is missing.
    public var droppedRows: Int
    /// The trained model, ready to predict.
    public var model: Model
}
