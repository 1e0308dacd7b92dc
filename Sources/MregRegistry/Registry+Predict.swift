import Foundation
import MregCore
import MregML

/// A version's model, loaded into a scorer from the exact registered file.
public struct LoadedScorer {
    public var model: String
    public var version: String
    /// The model file, relative to the version's folder.
    public var file: String
    public var scorer: any Scorer
}

/// What `mreg predict` is asked to do.
public struct PredictRequest {
    /// A data file, or `-` for standard input.
    public var data: String
    /// An output file, or `-` (or nil) for standard output.
    public var output: String?
    /// nil: from the file extension (`.jsonl`, `.ndjson` are JSON Lines), else CSV.
    public var inputFormat: BatchOptions.Format?
    /// nil: from the output's extension, else the input's format.
    public var outputFormat: BatchOptions.Format?
    public var probabilities = false
    public var keep: [String] = []
    public var skipBadRows = false
    public var batchRows = 16_384

    /// A request to score `data` into `output`.
    public init(data: String, output: String? = nil) {
        self.data = data
        self.output = output
    }

    static func format(of path: String) -> BatchOptions.Format? {
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson": return .jsonl
        case "csv": return .csv
        default: return nil
        }
    }
}

/// What a `mreg predict` run did.
public struct PredictReport: Equatable {
    public var model: String
    public var version: String
    public var file: String
    public var format: String
    public var rows: Int
    public var written: Int
    public var skipped: Int
    public var firstSkip: String?
    public var output: String

    /// The report as a JSON document (sorted keys when encoded).
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "model": .string(model), "version": .string(version), "file": .string(file), "format": .string(format),
            "rows": .number(Double(rows)), "written": .number(Double(written)), "skipped": .number(Double(skipped)),
            "output": .string(output),
        ]
        o["firstSkip"] = firstSkip.map(JSONValue.string) ?? .null
        return .object(o)
    }
}

extension Registry {
    /// Loads a version's model from the file and format its `version.yaml` records, checked against its checksums.
    public func loadScorer(_ reference: ModelReference) throws -> LoadedScorer {
        let (snap, version) = try resolve(reference)
        return try loadScorer(snap: snap, model: reference.model, version: version)
    }

    /// Scores a CSV or JSON Lines file (or standard input) with the exact registered artifact of
    /// `reference`, streaming in batches; the output file appears only when the run succeeds.
    public func predict(_ reference: ModelReference, _ request: PredictRequest,
                        progress: ((BatchSummary) -> Void)? = nil) throws -> PredictReport {
        let loaded = try loadScorer(reference)
        let inputFormat = request.inputFormat ?? PredictRequest.format(of: request.data) ?? .csv
        let toStdout = request.output == nil || request.output == "-"
        let outputFormat = request.outputFormat ?? (toStdout ? nil : PredictRequest.format(of: request.output!)) ?? inputFormat
        var options = BatchOptions(input: inputFormat, output: outputFormat, model: loaded.model, version: loaded.version,
                                   source: request.data == "-" ? "stdin" : (request.data as NSString).lastPathComponent,
                                   probabilities: request.probabilities, keep: request.keep, skipBadRows: request.skipBadRows,
                                   batchRows: request.batchRows)
        options.destination = toStdout ? "stdout" : request.output!
        let predictor = try BatchPredictor(scorer: loaded.scorer, options: options)
        let input = try Registry.openInput(request.data)
        defer { if request.data != "-" { try? input.close() } }
        let summary: BatchSummary
        if toStdout {
            summary = try predictor.run(input: input, output: .standardOutput, progress: progress)
        } else {
            let path = request.output!
            let staging = path + ".partial-\(getpid())"
            guard FileManager.default.createFile(atPath: staging, contents: nil), let out = FileHandle(forWritingAtPath: staging) else {
                throw RegistryError.invalidInput("cannot write '\(path)'")
            }
            do {
                summary = try predictor.run(input: input, output: out, progress: progress)
                try out.close()
                if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
                try FileManager.default.moveItem(atPath: staging, toPath: path)
            } catch {
                try? out.close()
                try? FileManager.default.removeItem(atPath: staging)
                throw error
            }
        }
        return PredictReport(model: loaded.model, version: loaded.version, file: loaded.file, format: loaded.scorer.format.rawValue,
                             rows: summary.rows, written: summary.written, skipped: summary.skipped, firstSkip: summary.firstSkip,
                             output: toStdout ? "-" : request.output!)
    }

    static func openInput(_ path: String) throws -> FileHandle {
        if path == "-" { return .standardInput }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let handle = FileHandle(forReadingAtPath: path) else {
            throw RegistryError.invalidInput("--data '\(path)' is not a readable file")
        }
        return handle
    }
}
