import ArgumentParser
import Foundation
import MregCore
import MregML
import MregRegistry

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with a built-in trainer (or your own program) and register it.",
        discussion: """
            Built-in: reads the CSV, splits it by seed (stratified for classification), fits the
            preprocessing on the training rows, runs --trials parameter sets, keeps the best by
            validation metric and registers model.json, metrics.json, baseline.json and card.md in
            one commit. Algorithms and parameters: docs/algorithms.md.

            Your own program: everything after -- is run with MREG_DATA, MREG_OUTPUT (an empty
            folder), MREG_PARAMS (JSON) and MREG_SEED; what it writes to MREG_OUTPUT becomes the
            version, its output is kept as train.log; a non-zero exit registers nothing.

            Examples:
              mreg train penguins --data penguins.csv --target species --trials 3
              mreg train churn --data churn.csv --target churned --algorithm gbdt --param max_iter=200
              mreg train churn --data churn.csv -- python train.py
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The model's name.")
    var model: String

    @Option(help: "A CSV file with a header row.")
    var data: String?

    @Option(help: "The column to predict (default: model.yaml's target).")
    var target: String?

    @Option(help: "classification or regression (default: inferred from the target).")
    var task: String?

    @Option(help: "logistic, linear, mlp or gbdt (default: logistic for classification, linear for regression).")
    var algorithm: String?

    @Option(name: .customLong("param"), help: "A parameter KEY=VALUE; repeat for more. Fixed during the search.")
    var params: [String] = []

    @Option(help: "How many parameter sets to try (the best by validation metric is kept).")
    var trials = 1

    @Option(help: "The share of rows held out for the test split.")
    var holdout = 0.2

    @Option(help: "The seed of the split and the search.")
    var seed: UInt64 = 42

    @Option(name: [.short, .long], help: "A note kept in the commit and version.yaml.")
    var message: String?

    @Option(name: .customLong("na-value"), help: ArgumentHelp("A cell value meaning missing in this file (besides empty, NA, N/A, NaN, null); repeat for more.", valueName: "token"))
    var naValues: [String] = []

    @Option(name: .customLong("feature-type"), help: ArgumentHelp("A feature's type, COLUMN=numeric or COLUMN=categorical, instead of inferring it; repeat for more.", valueName: "column=type"))
    var featureTypes: [String] = []

    @Flag(help: "Do not reserve the version number on the remote (it may then collide with another branch's).")
    var noReserve = false

    @Flag(help: "No progress output.")
    var quiet = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Argument(parsing: .postTerminator, help: "Your own trainer: a command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard Names.isValidModelName(model) else {
            throw ValidationError("invalid model name '\(model)': use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
        if let task, MregML.Task(rawValue: task) == nil { throw ValidationError("--task must be classification or regression, not '\(task)'") }
        if let algorithm, Algorithm(rawValue: algorithm) == nil {
            throw ValidationError("--algorithm must be one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")), not '\(algorithm)'")
        }
        guard (1...10_000).contains(trials) else { throw ValidationError("--trials must be between 1 and 10000") }
        guard holdout > 0 && holdout <= 0.9 else { throw ValidationError("--holdout must be in (0, 0.9]") }
        for p in params where !p.contains("=") || p.hasPrefix("=") { throw ValidationError("--param '\(p)' is not KEY=VALUE") }
        _ = try parsedFeatureTypes()
        if command.isEmpty && data == nil { throw ValidationError("--data is required for the built-in trainers") }
    }

    func parsedFeatureTypes() throws -> [String: FeatureType] {
        var out = [String: FeatureType]()
        for item in featureTypes {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let type = FeatureType(rawValue: parts[1]) else {
                throw ValidationError("--feature-type '\(item)' is not COLUMN=numeric or COLUMN=categorical")
            }
            out[parts[0]] = type
        }
        return out
    }

    var parsedParams: [String: String] {
        var out = [String: String]()
        for p in params {
            let parts = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }

    func run() throws {
        let registry = try options.open()
        registry.reserveOnRemote = !noReserve
        let progress = quiet || isatty(2) == 0 ? nil : ProgressLine()
        if !command.isEmpty {
            var trainer = ExternalTrainer(model: model, command: command, data: data)
            trainer.params = parsedParams
            trainer.seed = seed
            trainer.message = message
            trainer.commandLine = commandLine()
            trainer.echo = quiet ? nil : FileHandle.standardError
            let r = try registry.trainExternal(trainer)
            report(r, metrics: try registry.head().metrics(r.model, r.version)?.primary ?? [:], trials: nil)
            return
        }
        var o = TrainOptions(model: model, data: data!, target: target)
        o.task = task.flatMap(MregML.Task.init(rawValue:))
        o.algorithm = algorithm.flatMap(Algorithm.init(rawValue:))
        o.params = parsedParams
        o.trials = trials
        o.holdout = holdout
        o.seed = seed
        o.missingValues = Set(naValues)
        o.featureTypes = try parsedFeatureTypes()
        o.message = message
        o.command = commandLine()
        if let progress {
            o.progress = { @Sendable (p: TrainProgress) in progress.update(p) }
        }
        let result = try registry.train(o)
        progress?.finish()
        let out = result.outcome
        report(result.registration, metrics: out.metrics["test"] ?? [:], trials: out.trials.count > 1 ? (out.bestTrial, out.trials.count) : nil,
               algorithm: out.algorithm.rawValue, split: out.splitSizes)
    }

    private func report(_ r: Registration, metrics: [String: Double], trials: (Int, Int)?, algorithm: String? = nil, split: [String: Int] = [:]) {
        if json {
            var o: [String: JSONValue] = [
                "model": .string(r.model), "version": .string(r.version), "commit": .string(r.commit.hex),
                "branch": .string(shortName(r.branch)), "testMetrics": .object(metrics.mapValues(JSONValue.number)),
            ]
            if let algorithm { o["algorithm"] = .string(algorithm) }
            if let trials { o["bestTrial"] = .number(Double(trials.0)); o["trials"] = .number(Double(trials.1)) }
            printJSON(.object(o))
            return
        }
        var line = "Registered \(r.model)@\(r.version) on \(shortName(r.branch)) (commit \(r.commit.short))"
        if let algorithm { line += ": \(algorithm)" }
        if let trials { line += ", best of \(trials.1) trials (#\(trials.0 + 1))" }
        print(line)
        if !split.isEmpty { print("  split: train \(split["train"] ?? 0), validation \(split["validation"] ?? 0), test \(split["test"] ?? 0) rows") }
        if !metrics.isEmpty {
            print("  test: " + keyMetrics([metrics]).map { "\($0) \(fmt(metrics[$0]!))" }.joined(separator: ", "))
        }
    }
}

/// A one-line progress display on stderr: trial, epoch and an estimate of the time left.
final class ProgressLine: @unchecked Sendable {
    private let start = Date()
    private let lock = NSLock()
    private var last = Date.distantPast

    func update(_ p: TrainProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) > 0.1 else { return }
        last = now
        let elapsed = now.timeIntervalSince(start)
        var fraction = Double(p.trial - 1) / Double(max(1, p.trials))
        if let e = p.epoch, let n = p.epochs, n > 0 { fraction += Double(e) / Double(n) / Double(max(1, p.trials)) }
        let eta = fraction > 0.01 ? String(format: ", about %.0fs left", elapsed / fraction - elapsed) : ""
        var text = "trial \(p.trial)/\(p.trials)"
        if let e = p.epoch, let n = p.epochs { text += ", epoch \(e)/\(n)" }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)\(eta)".utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
