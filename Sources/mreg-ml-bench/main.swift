// mreg-ml-bench: runs MregML training, evaluation and scoring from the command line, for the parity
// and speed scripts in scripts/ml. Prints one JSON object on stdout.
import Foundation
import MregCore
import MregML

let usage = """
    usage: mreg-ml-bench train --data CSV --target COLUMN [--task T] [--algorithm A] [--param K=V ...]
                               [--trials N] [--holdout H] [--seed S] [--model OUT.json] [--baseline OUT.json]
           mreg-ml-bench score --data CSV --target COLUMN [--algorithm A] [--param K=V ...] [--seed S] [--seconds T] [--repeat R]
           mreg-ml-bench evaluate --model MODEL.json --data CSV
    """

struct Options {
    var values: [String: String] = [:]
    var params: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) throws {
        var i = arguments.startIndex
        while i < arguments.endIndex {
            let key = arguments[i]
            guard key.hasPrefix("--"), i + 1 < arguments.endIndex else { throw BenchError("unexpected argument '\(key)'") }
            let value = arguments[i + 1]
            if key == "--param" {
                guard let eq = value.firstIndex(of: "=") else { throw BenchError("--param needs KEY=VALUE, got '\(value)'") }
                params[String(value[..<eq])] = String(value[value.index(after: eq)...])
            } else {
                values[String(key.dropFirst(2))] = value
            }
            i += 2
        }
    }

    func required(_ key: String) throws -> String {
        guard let v = values[key] else { throw BenchError("missing --\(key)") }
        return v
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func metricsJSON(_ metrics: [String: Double]) -> JSONValue { .object(metrics.mapValues(JSONValue.number)) }

func request(_ options: Options, table: Table) throws -> TrainRequest {
    var request = TrainRequest(table: table, target: try options.required("target"))
    if let t = options.values["task"] {
        guard let task = Task(rawValue: t) else { throw BenchError("unknown task '\(t)'") }
        request.task = task
    }
    if let a = options.values["algorithm"] {
        guard let algorithm = Algorithm(rawValue: a) else { throw BenchError("unknown algorithm '\(a)'") }
        request.algorithm = algorithm
    }
    request.params = options.params
    if let v = options.values["trials"] { request.trials = Int(v) ?? 1 }
    if let v = options.values["holdout"] { request.holdout = Double(v) ?? 0.2 }
    if let v = options.values["seed"] { request.seed = UInt64(v) ?? 42 }
    return request
}

func runTrain(_ options: Options) throws -> JSONValue {
    let url = URL(fileURLWithPath: try options.required("data"))
    let t0 = now()
    let table = try Table.readCSV(at: url)
    let t1 = now()
    let outcome = try train(try request(options, table: table))
    let t2 = now()
    if let path = options.values["model"] { try outcome.artifact.encoded(pretty: true).write(to: URL(fileURLWithPath: path)) }
    if let path = options.values["baseline"] { try outcome.baseline.encoded(pretty: true).write(to: URL(fileURLWithPath: path)) }
    return [
        "task": .string(outcome.task.rawValue),
        "algorithm": .string(outcome.algorithm.rawValue),
        "params": .object(outcome.params),
        "metrics": .object(outcome.metrics.mapValues(metricsJSON)),
        "split": [
            "train": .array(outcome.split.train.map { .number(Double($0)) }),
            "validation": .array(outcome.split.validation.map { .number(Double($0)) }),
            "test": .array(outcome.split.test.map { .number(Double($0)) }),
        ],
        "iterations": outcome.trials[outcome.bestTrial].iterations.map { .number(Double($0)) } ?? .null,
        "trials": .number(Double(outcome.trials.count)),
        "parseSeconds": .number(t1 - t0),
        "trainSeconds": .number(t2 - t1),
    ]
}

/// Times parsing, training, in-memory batch scoring and end-to-end scoring (CSV bytes to labels).
func runScore(_ options: Options) throws -> JSONValue {
    let url = URL(fileURLWithPath: try options.required("data"))
    let minimum = Double(options.values["seconds"] ?? "2") ?? 2
    let bytes = try Data(contentsOf: url)
    let t0 = now()
    let table = try Table.parseCSV(bytes, source: url.lastPathComponent)
    let parseSeconds = now() - t0
    // Training: the median of --repeat runs (each one the whole `train` call on the parsed table).
    let repeats = max(1, Int(options.values["repeat"] ?? "1") ?? 1)
    var trainTimes = [Double]()
    var trained: TrainOutcome? = nil
    for _ in 0..<repeats {
        let t1 = now()
        trained = try train(try request(options, table: table))
        trainTimes.append(now() - t1)
    }
    let outcome = trained!
    let trainSeconds = trainTimes.sorted()[trainTimes.count / 2]
    let model = try Model(data: outcome.artifact.encoded())
    let input = try model.input(from: table)

    // Batch scoring on columnar in-memory input.
    var rows = 0
    var checksum = 0
    let s0 = now()
    while now() - s0 < minimum || rows == 0 {
        let p = model.predict(input)
        checksum &+= p.classIndices?.reduce(0, +) ?? Int(p.values?.reduce(0, +) ?? 0)
        rows += input.rowCount
    }
    let batchSeconds = now() - s0

    // Single-row scoring, as an HTTP handler would call it.
    let single = min(20_000, input.rowCount)
    var singleInputs = [ModelInput]()
    for r in 0..<single {
        singleInputs.append(ModelInput(columns: input.columns.map { column in
            switch column {
            case .numeric(let v): return .numeric([v[r]])
            case .categorical(let v): return .categorical([v[r]])
            }
        }, rowCount: 1))
    }
    let s1 = now()
    for one in singleInputs { checksum &+= model.predict(one).classIndices?[0] ?? 0 }
    let singleSeconds = now() - s1

    // End to end: CSV bytes -> table -> input -> predictions.
    let s2 = now()
    let again = try Table.parseCSV(bytes, source: url.lastPathComponent)
    let endInput = try model.input(from: again)
    let endPredictions = model.predict(endInput)
    let endSeconds = now() - s2
    checksum &+= endPredictions.rowCount

    return [
        "algorithm": .string(outcome.algorithm.rawValue),
        "rows": .number(Double(table.rowCount)),
        "columns": .number(Double(table.columnNames.count)),
        "trainRows": .number(Double(outcome.split.train.count)),
        "iterations": outcome.trials[outcome.bestTrial].iterations.map { .number(Double($0)) } ?? .null,
        "testMetrics": metricsJSON(outcome.metrics["test"] ?? [:]),
        "parseSeconds": .number(parseSeconds),
        "trainSeconds": .number(trainSeconds),
        "trainSecondsAll": .array(trainTimes.map(JSONValue.number)),
        "trainSplit": .array(outcome.split.train.map { .number(Double($0)) }),
        "testSplit": .array(outcome.split.test.map { .number(Double($0)) }),
        "batchRowsPerSecond": .number(Double(rows) / batchSeconds),
        "singleRowPredictionsPerSecond": .number(Double(single) / singleSeconds),
        "endToEndSeconds": .number(endSeconds),
        "endToEndRowsPerSecond": .number(Double(table.rowCount) / endSeconds),
        "checksum": .number(Double(checksum % 1_000_000)),
    ]
}

func runEvaluate(_ options: Options) throws -> JSONValue {
    let model = try Model(data: try Data(contentsOf: URL(fileURLWithPath: try options.required("model"))))
    let table = try Table.readCSV(at: URL(fileURLWithPath: try options.required("data")))
    let evaluation = try evaluate(model, on: table)
    return ["metrics": metricsJSON(evaluation.metrics), "rows": .number(Double(evaluation.rows))]
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
do {
    let options = try Options(arguments.dropFirst(2))
    let result: JSONValue
    switch arguments[1] {
    case "train": result = try runTrain(options)
    case "score": result = try runScore(options)
    case "evaluate": result = try runEvaluate(options)
    default: throw BenchError("unknown command '\(arguments[1])'\n\(usage)")
    }
    FileHandle.standardOutput.write(result.encoded(pretty: true))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
