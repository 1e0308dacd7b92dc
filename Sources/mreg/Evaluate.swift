import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a version on data and check an environment's gates; in CI, judge what a branch changes.",
        discussion: """
            Classification: accuracy, balanced accuracy, macro precision/recall/F1, log loss,
            ROC AUC (binary), confusion matrix. Regression: RMSE, MAE, R². Gates: docs/policy.md.
            --changed evaluates each new version on the data named in its model.yaml (or --data;
            with neither, its recorded test metrics) and checks the gates of every environment
            whose manifest changed. Exit 0 all pass, 1 a gate failed, 2 a usage or data error.

            Examples:
              mreg evaluate penguins@v3 --data holdout.csv --env production
              mreg evaluate penguins@v3 --data holdout.csv --record
              mreg evaluate --changed --format markdown --output report.md --junit report.xml
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION or MODEL@ENV (not with --changed).")
    var reference: String?

    @Option(help: "A CSV file with the target column.")
    var data: String?

    @Option(help: "Check this environment's gates.")
    var env: String?

    @Option(help: "text, json, markdown or junit.")
    var format: String = "text"

    @Option(help: "Write the report to this file instead of stdout.")
    var output: String?

    @Option(help: "With --changed: also write JUnit XML to this file.")
    var junit: String?

    @Flag(help: "Append the evaluation to the version (a new file) and commit.")
    var record = false

    @Flag(help: "Judge what the commits since --base add or change (CI mode).")
    var changed = false

    @Option(help: "With --changed: the commit to compare with (default: the merge-base with main).")
    var base: String?

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else { throw ValidationError("--format must be text, json, markdown or junit, not '\(format)'") }
        if changed {
            if reference != nil { throw ValidationError("give either MODEL@VERSION or --changed, not both") }
            if record || env != nil { throw ValidationError("--record and --env do not go with --changed") }
        } else {
            if reference == nil { throw ValidationError("missing MODEL@VERSION (or use --changed)") }
            if base != nil || junit != nil { throw ValidationError("--base and --junit go with --changed") }
        }
    }

    func run() throws {
        let registry = try options.open()
        let fmt = ReportFormat(rawValue: format)!
        let passed: Bool
        if changed {
            let report = try registry.evaluateChanged(base: base, data: data)
            try emit(Reports.render(report, as: fmt))
            if let junit { try write(Reports.render(report, as: .junit), to: junit) }
            passed = report.passed
        } else {
            let report = try registry.evaluate(try ModelReference(parsing: reference!), data: data, environment: env, record: record)
            try emit(Reports.render(report, as: fmt))
            if let c = report.recorded, output != nil || fmt == .text {
                FileHandle.standardError.write(Data("recorded the evaluation (commit \(c.short))\n".utf8))
            }
            passed = report.passed
        }
        if !passed { throw CheckFailed(message: "evaluation failed") }
    }

    private func emit(_ text: String) throws {
        if let output { try write(text, to: output) } else { print(text, terminator: "") }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RegistryError.invalidInput("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
