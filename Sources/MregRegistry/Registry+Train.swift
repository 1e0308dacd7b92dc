import Foundation
import MregCore
import MregGit
import MregML

/// What `mreg train` is asked to do.
public struct TrainOptions {
    public var model: String
    public var data: String
    public var target: String?
    public var task: MregML.Task?
    public var algorithm: Algorithm?
    public var params: [String: String] = [:]
    public var trials = 1
    public var holdout = 0.2
    public var seed: UInt64 = 42
    /// Cell values that mean "missing" in this file besides the usual (empty, NA, N/A, NaN, null).
    public var missingValues: Set<String> = []
    /// Feature types that override inference (and model.yaml's).
    public var featureTypes: [String: FeatureType] = [:]
    public var message: String?
    public var command: String?
    public var progress: (@Sendable (TrainProgress) -> Void)?

    public init(model: String, data: String, target: String? = nil) {
        self.model = model
        self.data = data
        self.target = target
    }
}

/// The version `mreg train` registered and how training went.
public struct TrainResult {
    public var registration: Registration
    public var outcome: TrainOutcome
}

/// The version of this mreg, recorded as the trainer version of built-in trainers.
public let mregVersion = "0.1.0"

extension Registry {
    /// Trains a built-in model on a CSV file and registers it, with its artifact, metrics, baseline
    /// and card, in one commit. Types declared in `model.yaml` override inference; its target is the
    /// default target.
    public func train(_ options: TrainOptions) throws -> TrainResult {
        _ = try Names.model(options.model)
        let snap = try head()
        let existing = try snap.modelSpecIfPresent(options.model)
        guard let target = options.target ?? existing?.target else {
            throw RegistryError.invalidInput("--target is required: model '\(options.model)' has no target in model.yaml yet")
        }
        if let declared = existing?.target, declared != target {
            throw RegistryError.invalidInput("--target '\(target)' differs from model.yaml's target '\(declared)'")
        }
        let (data, read) = try Registry.readTable(options.data)
        let table = read.markingMissing(options.missingValues)
        var types = [String: FeatureType]()
        for f in existing?.features ?? [] { types[f.name] = FeatureType(rawValue: f.type) }
        for (name, type) in options.featureTypes { types[name] = type }
        let declaredFeatures = existing?.features.isEmpty == false ? existing!.features.map(\.name) : nil
        var request = TrainRequest(
            table: table, source: (options.data as NSString).lastPathComponent, target: target,
            task: options.task ?? existing?.task.flatMap(MregML.Task.init(rawValue:)), algorithm: options.algorithm,
            params: options.params, trials: options.trials, holdout: options.holdout, seed: options.seed,
            featureTypes: types, features: declaredFeatures, progress: options.progress)
        if let declaredTask = existing?.task, let asked = options.task, asked.rawValue != declaredTask {
            throw RegistryError.invalidInput("--task '\(asked.rawValue)' differs from model.yaml's task '\(declaredTask)'")
        }
        request.source = (options.data as NSString).lastPathComponent
        let outcome = try MregML.train(request)

        let metrics = MetricsFile(splits: outcome.metrics)
        let content = VersionContent(
            files: ["model.json": outcome.artifact.encoded(), "baseline.json": outcome.baseline.encoded(pretty: true)],
            metrics: metrics)
        var spec = existing ?? ModelSpec(name: options.model)
        spec.task = outcome.task.rawValue
        spec.target = target
        if spec.features.isEmpty {
            spec.features = outcome.features.map { FeatureDeclaration(name: $0.name, type: $0.type.rawValue) }
        }
        let fingerprint = DataFingerprint(
            role: "train", path: options.data, sha256: SHA256.hex(data), rows: table.rowCount, columns: table.columnNames)
        let registration = try register(model: options.model, content: content, modelSpec: spec, message: options.message) { record in
            record.source = VersionSource(
                kind: "train", command: options.command, message: options.message, trainer: "mreg-\(outcome.algorithm.rawValue)",
                trainerVersion: mregVersion)
            record.task = outcome.task.rawValue
            record.algorithm = outcome.algorithm.rawValue
            record.target = target
            record.seed = options.seed
            record.split = .object([
                "holdout": .number(options.holdout), "train": .number(Double(outcome.splitSizes["train"] ?? 0)),
                "validation": .number(Double(outcome.splitSizes["validation"] ?? 0)),
                "test": .number(Double(outcome.splitSizes["test"] ?? 0)),
                "droppedRows": .number(Double(outcome.droppedRows)),
            ])
            record.params = .object(outcome.params)
            record.data = [fingerprint]
            if outcome.trials.count > 1 {
                record.trials = outcome.trials.map {
                    TrialSummary(params: .object($0.params), metrics: $0.validationMetrics, seconds: $0.seconds)
                }
                record.bestTrial = outcome.bestTrial
            }
        }
        return TrainResult(registration: registration, outcome: outcome)
    }

    /// Reads a CSV file into a table, keeping its bytes for the fingerprint.
    static func readTable(_ path: String) throws -> (Data, Table) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw RegistryError.invalidInput("--data '\(path)' is not a file")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return (data, try Table.parseCSV(data, source: (path as NSString).lastPathComponent))
    }
}
