import Foundation
import MregCore

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
    /// Candidate values per parameter for the search, replacing the built-in grids (as text, checked
    /// like `params`).
    public var space: [String: [String]] = [:]
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

/// Trains a model as `mreg train` does: infer, split, preprocess, search, score, and package.
public func train(_ request: TrainRequest) throws(MLError) -> TrainOutcome {
    try Trainer.run(request)
}

/// The steps of `train`.
/// The features `train(request)` would use, with their types, without training: what
/// `mreg pipeline run --dry-run` shows.
public func trainingFeatures(_ request: TrainRequest) throws(MLError) -> [FeatureSpec] {
    try Trainer.features(of: request).specs
}

enum Trainer {
    /// Fewest rows with a target that training accepts.
    static let minimumRows = 5
    /// A numeric target with more distinct values than this is regression.
    static let classificationLimit = 20
    /// Most classes a classification target may have.
    static let maxClasses = 1000

    static func run(_ request: TrainRequest) throws(MLError) -> TrainOutcome {
        let table = request.table
        let source = request.source.isEmpty ? table.source : request.source
        guard request.trials >= 1, request.trials <= 10_000 else {
            throw .invalidOption("trials must be in 1...10000, got \(request.trials)")
        }
        guard request.holdout > 0, request.holdout <= 0.9, request.holdout.isFinite else {
            throw .invalidOption("holdout must be in (0, 0.9], got \(JSONValue.format(request.holdout))")
        }
        guard let targetColumn = table.columnIndex(request.target) else {
            throw .missingColumn(source: source, name: request.target, available: table.columnNames)
        }

        // Features and their types.
        let (specs, columnsOfFeatures) = try Trainer.features(of: request)

        // Target: rows with a value, task, classes.
        let kept = (0..<table.rowCount).filter { table.columns[targetColumn].lengths[$0] >= 0 }
        guard !kept.isEmpty else { throw .emptyTarget(source: source, target: request.target) }
        let task = request.task ?? inferTask(table, column: targetColumn, rows: kept)
        var classes: [String]? = nil
        let targets: TrainingTargets
        let targetForBaseline: FeatureColumn
        switch task {
        case .regression:
            let all = try table.trainingNumbers(column: targetColumn)
            let values = kept.map { all[$0] }
            if let first = values.first, values.allSatisfy({ $0 == first }) {
                throw .constantTarget(source: source, target: request.target, value: table.string(row: kept[0], column: targetColumn) ?? "")
            }
            targets = .values(values)
            targetForBaseline = .numeric(values)
        case .classification:
            let all = table.strings(column: targetColumn)
            let labels = kept.map { all[$0]! }
            let sorted = sortClasses(Array(Set(labels)))
            guard sorted.count >= 2 else {
                throw .constantTarget(source: source, target: request.target, value: sorted.first ?? "")
            }
            guard sorted.count <= maxClasses else {
                throw .invalidOption("\(source): target '\(request.target)' has \(sorted.count) distinct values, "
                    + "classification takes at most \(maxClasses) classes")
            }
            var index = [String: Int]()
            for (i, c) in sorted.enumerated() { index[c] = i }
            classes = sorted
            targets = .classes(labels.map { index[$0]! }, count: sorted.count)
            targetForBaseline = .categorical(labels)
        }
        guard kept.count >= minimumRows else {
            throw .tooFewRows(source: source, rows: kept.count, needed: minimumRows)
        }
        let algorithm = request.algorithm ?? Algorithm.defaultAlgorithm(for: task)
        guard algorithm.supports(task) else {
            throw .incompatibleAlgorithm(algorithm: algorithm.rawValue, task: task.rawValue)
        }
        let fixed = try Hyperparameters.parse(request.params, for: algorithm)

        // Raw feature columns over the kept rows.
        var raw = [FeatureColumn]()
        for (spec, c) in zip(specs, columnsOfFeatures) {
            switch spec.type {
            case .numeric:
                let all = try table.trainingNumbers(column: c)
                raw.append(.numeric(kept.map { all[$0] }))
            case .categorical:
                let all = table.strings(column: c)
                raw.append(.categorical(kept.map { all[$0] }))
            }
        }

        // Split, then fit preprocessing on the training part only.
        var strata: [Int]? = nil
        if case .classes(let y, _) = targets { strata = y }
        let local = DataSplit.make(count: kept.count, holdout: request.holdout, seed: request.seed, strata: strata)
        let trainColumns = raw.map { $0.subset(local.train) }
        // Sorted training values of numeric columns, shared by the median and the baseline.
        let sortedTrain: [[Double]?] = zip(specs, trainColumns).map { spec, column in
            if spec.type == .numeric, case .numeric(let values) = column { return Statistics.sortedFinite(values) }
            return nil
        }
        let preprocessor = Preprocessor.fit(features: specs, columns: trainColumns, sorted: sortedTrain)
        let trainX = preprocessor.transform(trainColumns, rowCount: local.train.count)
        let validationX = preprocessor.transform(raw.map { $0.subset(local.validation) }, rowCount: local.validation.count)
        let testX = preprocessor.transform(raw.map { $0.subset(local.test) }, rowCount: local.test.count)
        let trainY = subset(targets, local.train)
        let validationY = subset(targets, local.validation)
        let testY = subset(targets, local.test)
        let classCount = classes?.count ?? 0

        // Trials.
        let space = try Hyperparameters.parseSpace(request.space, for: algorithm)
        let plan = Hyperparameters.plan(for: algorithm, fixed: fixed, trials: request.trials, seed: request.seed, space: space)
        var records = [TrialRecord]()
        var best: (index: Int, estimator: Estimator, score: (Double, Double))? = nil
        let selectionX = validationX.rows > 0 ? validationX : trainX
        let selectionY = validationX.rows > 0 ? validationY : trainY
        for (i, params) in plan.enumerated() {
            let started = DispatchTime.now().uptimeNanoseconds
            let progress = request.progress
            let trial = i + 1
            progress?(TrainProgress(trial: trial, trials: plan.count, epoch: nil, epochs: nil,
                                    message: "trial \(trial)/\(plan.count): training \(algorithm.rawValue)"))
            let (estimator, iterations) = fit(
                algorithm, ParameterValues(values: params), trainX: trainX, trainY: trainY,
                validationX: validationX, validationY: validationY, seed: request.seed
            ) { epoch, epochs in
                progress?(TrainProgress(trial: trial, trials: plan.count, epoch: epoch, epochs: epochs,
                                        message: "trial \(trial)/\(plan.count): \(algorithm == .gbdt ? "iteration" : "epoch") \(epoch)/\(epochs)"))
            }
            let metrics = score(estimator, selectionX, selectionY, classCount: classCount).metrics
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            records.append(TrialRecord(params: params, validationMetrics: metrics, seconds: seconds, iterations: iterations))
            // Higher is better: accuracy then lower log loss (classification), R² (regression); ties keep the earlier trial.
            // A missing or NaN metric (a diverged trial) ranks last.
            func rank(_ value: Double?) -> Double { value.map { $0.isNaN ? -.infinity : $0 } ?? -.infinity }
            let key = task == .classification
                ? (rank(metrics["accuracy"]), rank(metrics["log_loss"].map { -$0 }))
                : (rank(metrics["r2"]), 0)
            if best == nil || key > best!.score {
                best = (i, estimator, key)
            }
        }
        let chosen = best!

        let model = Model(task: task, algorithm: algorithm, target: request.target, classes: classes,
                          preprocessor: preprocessor, params: plan[chosen.index], estimator: chosen.estimator)
        var metrics = [String: [String: Double]]()
        if validationX.rows > 0 { metrics["validation"] = records[chosen.index].validationMetrics }
        var confusion: [[Int]]? = nil
        if testX.rows > 0 {
            let report = score(chosen.estimator, testX, testY, classCount: classCount)
            metrics["test"] = report.metrics
            confusion = report.confusion
        }
        let baseline = Baseline.make(features: specs, columns: trainColumns, target: request.target,
                                     targetColumn: targetForBaseline.subset(local.train), rows: local.train.count,
                                     sorted: sortedTrain)
        let split = DataSplit(train: local.train.map { kept[$0] }, validation: local.validation.map { kept[$0] },
                              test: local.test.map { kept[$0] })
        return TrainOutcome(
            task: task, algorithm: algorithm, features: specs, classes: classes, params: plan[chosen.index],
            trials: records, bestTrial: chosen.index, artifact: model.artifact, metrics: metrics,
            testConfusionMatrix: confusion, baseline: baseline, splitSizes: split.sizes, split: split,
            droppedRows: table.rowCount - kept.count, model: model)
    }

    /// Regression for a target of numbers with a fraction or more than `classificationLimit` distinct values.
    /// The features a request trains on, in order, with their types (declared, else inferred,
    /// refusing to guess a column that is numeric but for a few cells) and their table columns:
    /// every column but the target unless the request lists its features.
    static func features(of request: TrainRequest) throws(MLError) -> (specs: [FeatureSpec], columns: [Int]) {
        let table = request.table, source = request.source.isEmpty ? request.table.source : request.source
        let names = request.features ?? table.columnNames.filter { $0 != request.target }
        var seen = Set<String>()
        var columns = [Int]()
        for name in names {
            guard let c = table.columnIndex(name) else {
                throw .missingColumn(source: source, name: name, available: table.columnNames)
            }
            guard name != request.target else { throw .invalidOption("feature '\(name)' is the target") }
            guard seen.insert(name).inserted else { throw .invalidOption("feature '\(name)' is listed twice") }
            columns.append(c)
        }
        guard !names.isEmpty else { throw .noFeatures(source: source, target: request.target) }
        for name in request.featureTypes.keys.sorted(by: utf8Less) where table.columnIndex(name) == nil {
            throw .missingColumn(source: source, name: name, available: table.columnNames)
        }
        var specs = [FeatureSpec]()
        for (name, c) in zip(names, columns) {
            if request.featureTypes[name] == nil { try table.checkUnambiguous(column: c) }
            specs.append(FeatureSpec(name: name, type: request.featureTypes[name] ?? table.inferredType(column: c)))
        }
        return (specs, columns)
    }

    static func inferTask(_ table: Table, column: Int, rows: [Int]) -> Task {
        guard table.columns[column].firstNonNumeric < 0 else { return .classification }
        let numbers = table.columns[column].numbers
        var distinct = Set<Double>()
        for r in rows {
            let v = numbers[r]
            if v.rounded() != v { return .regression }
            distinct.insert(v)
            if distinct.count > classificationLimit { return .regression }
        }
        return .classification
    }

    /// Class order: by numeric value when every label is a number, else by UTF-8 bytes.
    static func sortClasses(_ labels: [String]) -> [String] {
        let numbers = labels.map { NumberParser.parse($0) }
        if numbers.allSatisfy({ $0 != nil }) {
            return zip(labels, numbers).sorted { a, b in a.1! != b.1! ? a.1! < b.1! : utf8Less(a.0, b.0) }.map(\.0)
        }
        return labels.sorted(by: utf8Less)
    }

    static func subset(_ targets: TrainingTargets, _ rows: [Int]) -> TrainingTargets {
        switch targets {
        case .classes(let y, let count): return .classes(rows.map { y[$0] }, count: count)
        case .values(let y): return .values(rows.map { y[$0] })
        }
    }

    /// Trains one parameter set; returns the estimator and the iterations it ran.
    static func fit(
        _ algorithm: Algorithm, _ p: ParameterValues, trainX: Matrix, trainY: TrainingTargets,
        validationX: Matrix, validationY: TrainingTargets, seed: UInt64, progress: (Int, Int) -> Void
    ) -> (Estimator, Int?) {
        switch algorithm {
        case .logistic:
            guard case .classes(let y, let count) = trainY else { fatalError("logistic needs classes") }
            let options = LogisticModel.Options(c: p.double("C"), maxIterations: p.int("max_iter"), tolerance: p.double("tol"))
            let (model, iterations) = LogisticModel.fit(trainX, labels: y, classCount: count, options: options)
            return (.logistic(model), iterations)
        case .linear:
            guard case .values(let y) = trainY else { fatalError("linear needs values") }
            return (.linear(LinearModel.fit(trainX, targets: y, alpha: p.double("alpha"))), nil)
        case .mlp:
            let options = MLPModel.Options(
                hidden: p.ints("hidden_layer_sizes"), learningRate: p.double("learning_rate"), alpha: p.double("alpha"),
                batchSize: p.int("batch_size"), maxEpochs: p.int("max_epochs"), patience: p.int("patience"),
                tolerance: p.double("tol"), earlyStopping: p.bool("early_stopping"))
            let (model, epochs) = MLPModel.fit(trainX, targets: trainY, validation: validationX, validationTargets: validationY,
                                               options: options, seed: seed, progress: progress)
            return (.mlp(model), epochs)
        case .gbdt:
            let stopping = p.string("early_stopping")
            let options = GBDTModel.Options(
                learningRate: p.double("learning_rate"), maxIterations: p.int("max_iter"), maxLeafNodes: p.int("max_leaf_nodes"),
                maxDepth: p.int("max_depth"), minSamplesLeaf: p.int("min_samples_leaf"), l2: p.double("l2_regularization"),
                maxBins: p.int("max_bins"), growth: GBDTModel.Growth(rawValue: p.string("growth")) ?? .leafwise,
                earlyStopping: stopping == "auto" ? nil : stopping == "true",
                iterationsWithoutChange: p.int("n_iter_no_change"), validationTolerance: p.double("validation_tol"))
            let (model, iterations) = GBDTModel.fit(trainX, targets: trainY, validation: validationX, validationTargets: validationY,
                                                    options: options, seed: seed, progress: progress)
            return (.gbdt(model), iterations)
        }
    }

    /// Metrics (and the confusion matrix for classification) of an estimator on preprocessed rows.
    static func score(_ estimator: Estimator, _ x: Matrix, _ y: TrainingTargets, classCount: Int) -> (metrics: [String: Double], confusion: [[Int]]?) {
        switch y {
        case .values(let truth):
            let predicted = estimator.predict(x, outputWidth: 1)
            return (Metrics.regression(truth: truth, predicted: predicted), nil)
        case .classes(let truth, _):
            let probabilities = estimator.predict(x, outputWidth: classCount)
            var predicted = [Int](repeating: 0, count: x.rows)
            for r in 0..<x.rows {
                var bestClass = 0
                for c in 1..<classCount where probabilities[r * classCount + c] > probabilities[r * classCount + bestClass] { bestClass = c }
                predicted[r] = bestClass
            }
            let report = Metrics.classification(truth: truth, predicted: predicted, probabilities: probabilities, classCount: classCount)
            return (report.metrics, report.confusionMatrix)
        }
    }
}
