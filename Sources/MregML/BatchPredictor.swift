import Foundation
import MregCore
import Synchronization

/// Options of a batch scoring run (`mreg predict`).
public struct BatchOptions: Sendable {
    /// CSV (a header row) or JSON Lines (one object per line).
    public enum Format: String, Sendable, CaseIterable { case csv, jsonl }
    public var input: Format
    public var output: Format
    /// Also write one probability per class (classification).
    public var probabilities: Bool
    /// Input columns copied to the output, in this order.
    public var keep: [String]
    /// Skip rows that cannot be scored (counted) instead of stopping at the first.
    public var skipBadRows: Bool
    /// Rows read, scored and written at a time: memory is bounded by this, not by the file.
    public var batchRows: Int
    /// Written into every output record.
    public var model: String
    public var version: String
    /// The input's name in messages.
    public var source: String
    /// The output's name in messages.
    public var destination: String = "-"

    /// Options with the defaults: no probabilities, no kept columns, stop at the first bad row.
    public init(input: Format, output: Format, model: String, version: String, source: String,
                probabilities: Bool = false, keep: [String] = [], skipBadRows: Bool = false, batchRows: Int = 16_384) {
        self.input = input
        self.output = output
        self.model = model
        self.version = version
        self.source = source
        self.probabilities = probabilities
        self.keep = keep
        self.skipBadRows = skipBadRows
        self.batchRows = batchRows
    }

    /// Output fields a kept column may not shadow.
    public static let reservedNames: Set<String> = ["prediction", "probabilities", "model", "version"]
}

/// What a batch scoring run did.
public struct BatchSummary: Sendable, Codable, Equatable {
    /// Data rows read.
    public var rows: Int = 0
    /// Predictions written.
    public var written: Int = 0
    /// Rows skipped as unscorable (`skipBadRows`).
    public var skipped: Int = 0
    /// Why the first skipped row was skipped (`line N: ...`).
    public var firstSkip: String?
}

/// A batch of parsed rows: model input plus kept values and source lines of the rows that are scored.
struct ParsedBatch {
    var input: ModelInput
    /// Per kept column, one value per scored row.
    var kept: [[JSONValue]]
    var read: Int
    var bad: [(line: Int, reason: String)]
}

/// Scores a whole CSV or JSON Lines stream with one scorer, batch by batch, in bounded memory.
public struct BatchPredictor: Sendable {
    let scorer: any Scorer
    let options: BatchOptions

    /// A predictor of `scorer` with `options`.
    public init(scorer: any Scorer, options: BatchOptions) throws(MLError) {
        guard options.batchRows >= 1 else { throw .invalidOption("batch size must be at least 1") }
        if let clash = options.keep.first(where: { BatchOptions.reservedNames.contains($0) }) {
            throw .invalidOption("--keep '\(clash)' would shadow an output field (\(BatchOptions.reservedNames.sorted().joined(separator: ", ")))")
        }
        self.scorer = scorer
        self.options = options
    }

    /// Reads `input` to its end and writes one prediction per scorable row to `output`.
    ///
    /// A bad row (wrong field count, a number that is not one, a line that is not a JSON object) stops
    /// the run with an error naming its line, or with `skipBadRows` is counted and left out. Batches
    /// are read in waves of one per core, parsed, scored and formatted in parallel, and written in order.
    public func run(input: FileHandle, output: FileHandle, progress: ((BatchSummary) -> Void)? = nil) throws(MLError) -> BatchSummary {
        var reader = RecordReader(handle: input, quoted: options.input == .csv, source: options.source)
        let writer = BatchWriter(options: options, classes: scorer.task == .classification ? scorer.classes : nil)
        var csv: CSVBatchParser? = nil
        if options.input == .csv {
            guard let header = try reader.next() else { throw .emptyFile(source: options.source) }
            csv = try CSVBatchParser(header: header.bytes, features: scorer.features, keep: options.keep, source: options.source)
        }
        try writer.emit(writer.header(), to: output)
        let width = min(ProcessInfo.processInfo.activeProcessorCount, 16)
        var summary = BatchSummary()
        while true {
            var wave = [Chunk]()
            while wave.count < width, let chunk = try reader.nextChunk(records: options.batchRows) {
                wave.append(Chunk(bytes: chunk.bytes, line: chunk.line))
            }
            if wave.isEmpty { break }
            for outcome in score(wave, csv: csv, writer: writer) {
                let batch = try outcome.get()
                summary.rows += batch.read
                if let first = batch.bad.first {
                    guard options.skipBadRows else { throw .invalidInput("\(options.source): line \(first.line): \(first.reason)") }
                    if summary.firstSkip == nil { summary.firstSkip = "line \(first.line): \(first.reason)" }
                    summary.skipped += batch.bad.count
                }
                try writer.emit(batch.bytes, to: output)
                summary.written += batch.written
                progress?(summary)
            }
        }
        if summary.rows == 0, options.input == .csv { throw .noDataRows(source: options.source) }
        return summary
    }

    /// Whole records cut from the input, and the line the first byte is on.
    struct Chunk: Sendable {
        var bytes: [UInt8]
        var line: Int
    }

    /// One batch parsed, scored and formatted.
    struct Outcome: Sendable {
        var read: Int
        var bad: [(line: Int, reason: String)]
        var written: Int
        var bytes: [UInt8]
    }

    /// Parses, scores and formats the chunks of a wave in parallel; outcomes in chunk order.
    func score(_ wave: [Chunk], csv: CSVBatchParser?, writer: BatchWriter) -> [Result<Outcome, MLError>] {
        let json = JSONLinesParser(features: scorer.features, keep: options.keep)
        let single = wave.count == 1
        let source = options.source
        let one: @Sendable (Chunk) -> Result<Outcome, MLError> = { chunk in
            Result { () throws(MLError) -> Outcome in
                let batch: ParsedBatch
                if let csv {
                    batch = try csv.parse(chunk: chunk.bytes, line: chunk.line)
                } else {
                    var reader = RecordReader(bytes: chunk.bytes, line: chunk.line, quoted: false, source: source)
                    batch = json.parse(try reader.all())
                }
                var bytes = [UInt8]()
                if batch.input.rowCount > 0 {
                    // A lone batch is split across cores itself; in a wave, each core takes a batch.
                    let p = single ? self.predict(batch.input) : self.scorer.predict(batch.input)
                    bytes = writer.format(p, kept: batch.kept)
                }
                return Outcome(read: batch.read, bad: batch.bad, written: batch.input.rowCount, bytes: bytes)
            }
        }
        if single { return [one(wave[0])] }
        let results = Mutex<[Int: Result<Outcome, MLError>]>([:])
        DispatchQueue.concurrentPerform(iterations: wave.count) { i in
            let r = one(wave[i])
            results.withLock { $0[i] = r }
        }
        return results.withLock { all in (0..<wave.count).map { all[$0]! } }
    }

    /// Scores a batch on every core: the rows are cut into one contiguous part per core.
    func predict(_ input: ModelInput) -> Predictions {
        let parts = input.rowCount >= 4096 ? min(ProcessInfo.processInfo.activeProcessorCount, 16) : 1
        guard parts > 1 else { return scorer.predict(input) }
        let size = (input.rowCount + parts - 1) / parts
        let results = Mutex<[Int: Predictions]>([:])
        let scorer = self.scorer
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (part * size)..<min(input.rowCount, (part + 1) * size)
            guard !range.isEmpty else { return }
            let p = scorer.predict(input.rows(range))
            results.withLock { $0[part] = p }
        }
        return results.withLock { all in Predictions.concatenate((0..<parts).compactMap { all[$0] }) }
    }
}

extension ModelInput {
    /// The rows in `range`, as their own input.
    func rows(_ range: Range<Int>) -> ModelInput {
        let columns = self.columns.map { column -> FeatureColumn in
            switch column {
            case .numeric(let v): return .numeric(Array(v[min(range.lowerBound, v.count)..<min(range.upperBound, v.count)]))
            case .categorical(let v): return .categorical(Array(v[min(range.lowerBound, v.count)..<min(range.upperBound, v.count)]))
            }
        }
        return ModelInput(columns: columns, rowCount: range.count)
    }
}

extension Predictions {
    /// Parts scored separately, joined in order.
    static func concatenate(_ parts: [Predictions]) -> Predictions {
        guard var out = parts.first else { return Predictions(rowCount: 0) }
        for p in parts.dropFirst() {
            out.rowCount += p.rowCount
            if let l = p.labels { out.labels?.append(contentsOf: l) }
            if let c = p.classIndices { out.classIndices?.append(contentsOf: c) }
            if let v = p.values { out.values?.append(contentsOf: v) }
            if let q = p.probabilities { out.probabilities?.append(contentsOf: q) }
        }
        return out
    }
}
