import ArgumentParser
import Foundation
import MregCore
import MregML
import MregRegistry

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score a file in batches with the exact registered artifact of a version.",
        discussion: """
            Reads CSV (a header row) or JSON Lines (one object per line) from --data, streaming in
            batches, and writes one prediction per row: CSV columns KEPT..., prediction,
            proba_CLASS... (with --proba), model, version; or JSON Lines objects with the same fields
            (probabilities as an object). Formats follow the file extensions (.jsonl/.ndjson are
            JSON Lines), else CSV; standard input and output are CSV unless told. Works for every
            natively scored format (mreg, xgboost-json, xgboost-ubjson, lightgbm-text).

            Bad rows (a wrong field count, a number that is not one, a line that is not a JSON
            object) stop the run with exit 2, or with --on-error skip are left out and counted on
            stderr, and the exit code is 1 when any were skipped. The output file appears only when
            the run completes.

            Examples:
              mreg predict penguins@production --data new.csv --out scored.csv --keep id --proba
              mreg predict fraud@v3 --data events.jsonl --out - --on-error skip
              cat rows.csv | mreg predict penguins@v2 --data - > scored.csv
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION or MODEL@ENV.")
    var reference: String

    @Option(help: "A CSV or JSON Lines file, or - for standard input.")
    var data: String

    @Option(help: "The output file, or - for standard output (the default).")
    var out: String?

    @Flag(help: "Also write class probabilities (classification).")
    var proba = false

    @Option(help: "Copy this input column to the output (repeatable).")
    var keep: [String] = []

    @Option(name: .customLong("on-error"), help: "fail (stop at the first bad row) or skip (leave bad rows out).")
    var onError: String = "fail"

    @Option(name: .customLong("input-format"), help: "csv or jsonl (default: from the --data extension, else csv).")
    var inputFormat: String?

    @Option(name: .customLong("output-format"), help: "csv or jsonl (default: from the --out extension, else the input's).")
    var outputFormat: String?

    @Option(name: .customLong("batch-size"), help: "Rows read and scored at a time.")
    var batchSize: Int = 16_384

    @Flag(help: "Print the run's summary as JSON on stderr.")
    var json = false

    func validate() throws {
        guard ["fail", "skip"].contains(onError) else { throw ValidationError("--on-error must be fail or skip, not '\(onError)'") }
        for f in [inputFormat, outputFormat].compactMap({ $0 }) where BatchOptions.Format(rawValue: f) == nil {
            throw ValidationError("formats are csv or jsonl, not '\(f)'")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        var request = PredictRequest(data: data, output: out)
        request.inputFormat = inputFormat.flatMap(BatchOptions.Format.init)
        request.outputFormat = outputFormat.flatMap(BatchOptions.Format.init)
        request.probabilities = proba
        request.keep = keep
        request.skipBadRows = onError == "skip"
        request.batchRows = batchSize
        let line = isatty(2) != 0 && !json ? RowProgress() : nil
        let report = try options.open().predict(try ModelReference(parsing: reference), request,
                                                progress: line.map { l in { l.update($0) } })
        line?.finish()
        if json {
            FileHandle.standardError.write(report.json.encoded() + Data("\n".utf8))
        } else {
            var text = "scored \(report.written) of \(report.rows) rows with \(report.model)@\(report.version) (\(report.format))"
            if report.skipped > 0 { text += "; skipped \(report.skipped) bad row\(report.skipped == 1 ? "" : "s") (first: \(report.firstSkip ?? "?"))" }
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
        if report.skipped > 0 { throw CheckFailed(message: nil) }
    }
}

/// Rows done so far, on one line of stderr, at most ten times a second.
final class RowProgress {
    private var last = Date.distantPast

    func update(_ s: BatchSummary) {
        let now = Date()
        guard now.timeIntervalSince(last) > 0.1 else { return }
        last = now
        FileHandle.standardError.write(Data("\r\u{1B}[K\(s.rows) rows read, \(s.written) scored".utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
