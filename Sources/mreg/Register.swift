import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register files produced elsewhere as the next version of a model, in one commit.",
        discussion: """
            Every file of the folder becomes part of the version, with its size and sha256 in
            version.yaml. metrics.json and card.md in the folder (or --metrics/--card) become the
            version's metrics and model card; a card is generated when there is none.

            The model file is recognised by its content (mreg, xgboost-json, xgboost-ubjson,
            lightgbm-text) or named by --format, loaded and checked, and recorded in version.yaml with
            its format; the task comes from its objective. Its inputs are the names the file holds, or
            --features, or model.yaml's features. --data TRAIN.csv writes baseline.json for drift
            monitoring. A file no runtime scores (a pickle) registers as format unknown, with a note.

            Examples:
              mreg register churn --from build/model --metrics build/metrics.json -m "weekly retrain"
              mreg register fraud --from out/ --target label --data train.csv
              mreg register fraud --from out/ --format xgboost-ubjson --features amount,age,country
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The model's name: 1-64 of a-z 0-9 . _ -.")
    var model: String

    @Option(help: "The folder holding the version's files.")
    var from: String

    @Option(help: "The model file's format: mreg, xgboost-json, xgboost-ubjson, lightgbm-text or unknown (default: recognised by content).")
    var format: String?

    @Option(help: "Input names, comma-separated in the model's feature order, for a model file that names none.")
    var features: String?

    @Option(help: "The target column (kept in model.yaml): needed by --data and by evaluate --data.")
    var target: String?

    @Option(help: "The training data (CSV): its statistics become baseline.json for drift monitoring.")
    var data: String?

    @Option(help: "A metrics JSON file: {\"splits\": {\"test\": {...}}} or a flat {\"accuracy\": 0.9}.")
    var metrics: String?

    @Option(help: "A model card (Markdown with YAML front matter).")
    var card: String?

    @Option(name: [.short, .long], help: "A note kept in the commit and version.yaml.")
    var message: String?

    @Flag(help: "Do not reserve the version number on the remote (it may then collide with another branch's).")
    var noReserve = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard Names.isValidModelName(model) else {
            throw ValidationError("invalid model name '\(model)': use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
    }

    func run() throws {
        let registry = try options.open()
        registry.reserveOnRemote = !noReserve
        var content = try VersionContent.read(folder: from, metricsFile: metrics, cardFile: card)
        content.format = format
        content.featureNames = features.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        content.target = target
        content.trainingData = data
        let command = commandLine()
        let result = try registry.register(model: model, content: content, message: message) { record in
            record.source.command = command
        }
        if json {
            printJSON([
                "model": .string(result.model), "version": .string(result.version), "commit": .string(result.commit.hex),
                "branch": .string(shortName(result.branch)), "format": .string(result.record.format ?? VersionRecord.unknownFormat),
                "artifact": result.record.artifact.map(JSONValue.string) ?? .null, "note": result.note.map(JSONValue.string) ?? .null,
            ])
        } else {
            let format = result.record.format.map { " (\($0)\(result.record.artifact.map { ", \($0)" } ?? ""))" } ?? ""
            print("Registered \(result.model)@\(result.version)\(format) on \(shortName(result.branch)) (commit \(result.commit.short))")
            if let note = result.note { print("note: \(note)") }
        }
    }
}

/// The command line as typed, for lineage records.
func commandLine() -> String {
    (["mreg"] + CommandLine.arguments.dropFirst()).map { arg in
        arg.contains(where: { " \"'$\\".contains($0) }) ? "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'" : arg
    }.joined(separator: " ")
}
