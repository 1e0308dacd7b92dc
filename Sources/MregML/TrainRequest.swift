import Foundation

/// A progress report while training, for a terminal progress line.
public struct TrainProgress: Sendable, Equatable {
    /// 1-based trial number.
    public var trial: Int
    /// Number of trials planned.
    public var trials: Int
    /// Epoch (mlp) or boosting iteration (gbdt) within the trial, when the algorithm has them.
    public var epoch: Int?
    /// The most epochs or iterations the trial may run.
    public var epochs: Int?
    /// A short line for a terminal, like `trial 2/5: epoch 13/200`.
    public var message: String
}

/// Everything `train` needs: the data, the target, and the choices `mreg train` exposes.
public struct TrainRequest: Sendable {
    /// The data, header included.
    public var table: Table
    /// File name used in error messages.
    public var source: String
    /// Column to predict.
    public var target: String
    /// Inferred when nil: a target whose values are all numbers and that has a non-integer value or more
    /// than 20 distinct values is regression, anything else classification.
    public var task: Task?
    /// Defaults to logistic (classification) or linear (regression).
    public var algorithm: Algorithm?
    /// `--param KEY=VALUE` pairs; fixed during a search.
    public var params: [String: String]
    /// Parameter sets to try (see docs/algorithms.md); 1 trains the given or default parameters.
    public var trials: Int = 1
    /// Share of rows held out for test, and then of the rest for validation.
    public var holdout: Double = 0.2
    /// Seeds the split, the search and the algorithms' randomness.
    public var seed: UInt64 = 42
    /// Overrides of the inferred feature types.
    public var featureTypes: [String: FeatureType] = [:]
    /// Feature columns in order; nil = every column except the target, in file order.
    public var features: [String]? = nil
    /// Called at the start of each trial and after each epoch or boosting iteration.
    public var progress: (@Sendable (TrainProgress) -> Void)? = nil

    /// A request with `mreg train`'s defaults; `source` defaults to the table's.
    public init(table: Table, source: String? = nil, target: String, task: Task? = nil, algorithm: Algorithm? = nil,
                params: [String: String] = [:], trials: Int = 1, holdout: Double = 0.2, seed: UInt64 = 42,
                featureTypes: [String: FeatureType] = [:], features: [String]? = nil,
                progress: (@Sendable (TrainProgress) -> Void)? = nil) {
        self.table = table
        self.source = source ?? table.source
        self.target = target
        self.task = task
        self.algorithm = algorithm
        self.params = params
        self.trials = trials
        self.holdout = holdout
        self.seed = seed
        self.featureTypes = featureTypes
        self.features = features
        self.progress = progress
    }
}
