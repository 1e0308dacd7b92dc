import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Compare captured production inputs with a version's training baseline; check live accuracy.",
        discussion: """
            Reads the JSON Lines files `mreg serve --capture` writes, keeps the
            records of this model version, and checks each feature against its
            baseline.json: numeric features by a Kolmogorov–Smirnov test on the
            baseline quantiles, the mean shift in training standard deviations
            and the missing rate (PSI and out-of-range values reported);
            categorical ones by a chi-square test and the Jensen–Shannon
            distance. Thresholds: `monitoring:` in mreg.yaml (docs/monitoring.md).
            Exit 0 no drift, 1 drift or live accuracy below the floor, 2 a usage or
            data error, 3 too few rows in the window to judge (fewer than
            monitoring.minRows, or none at all: a stale model gets no traffic);
            --allow-empty makes that 0.

            Examples:
              mreg monitor penguins@production --capture /var/lib/mreg/capture
              mreg monitor penguins@v3 --capture cap/ --since 24h --format markdown
              mreg monitor penguins@v3 --capture cap/ --labels truth.csv --id-column id
              mreg monitor penguins@production --capture cap/ \\
                --on-drift "mreg pipeline run retrain.yaml --data new.csv"
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION or MODEL@ENV.")
    var reference: String

    @Option(parsing: .upToNextOption, help: "Capture folders (their *.jsonl files) or files.")
    var capture: [String] = []

    @Option(help: "Only records at or after this time: 2026-11-22T18:00:00Z, 2026-11-22, or an age like 24h or 7d.")
    var since: String?

    @Option(help: "A CSV file of ground truth: the request id column and the target column.")
    var labels: String?

    @Option(help: "The request id column of --labels.")
    var idColumn: String?

    @Option(help: "text, json or markdown.")
    var format: String = "text"

    @Option(help: "Write the report to this file instead of stdout.")
    var output: String?

    @Option(help: "A command run (by /bin/sh -c) when drift or low accuracy is found; default: monitoring.retrain in mreg.yaml.")
    var onDrift: String?

    @Flag(help: "Exit 0 instead of 3 when the window holds too few rows to judge.")
    var allowEmpty = false

    func validate() throws {
        guard MonitorFormat(rawValue: format) != nil else { throw ValidationError("--format must be text, json or markdown, not '\(format)'") }
        guard !capture.isEmpty else { throw ValidationError("missing --capture DIR|FILE") }
        if labels != nil && idColumn == nil { throw ValidationError("--labels needs --id-column") }
        if idColumn != nil && labels == nil { throw ValidationError("--id-column goes with --labels") }
    }

    func run() throws {
        let registry = try options.open()
        let ref = try ModelReference(parsing: reference)
        let sinceMillis = try since.map { try Registry.parseSince($0) }
        var report = try registry.monitor(MonitorOptions(
            reference: ref, captures: capture, sinceMillis: sinceMillis, labels: labels, idColumn: idColumn))
        if report.failed, let command = onDrift ?? report.thresholds.retrain {
            // The command reads the JSON report; its exit status goes into the report printed after it.
            let path: String
            if let output, format == "json" {
                path = output
            } else {
                path = NSTemporaryDirectory() + "mreg-monitor-\(getpid()).json"
            }
            try write(report.render(.json), to: path)
            report.hook = try Registry.runHook(command, reportPath: path)
        }
        let text = report.render(MonitorFormat(rawValue: format)!)
        if let output { try write(text, to: output) } else { print(text, terminator: "") }
        if report.failed { throw CheckFailed(message: output.map { "drift found, see '\($0)'" }) }
        if report.status == .insufficient && !allowEmpty {
            printError("too little data to judge: \(report.window.rows) rows in the window, at least \(report.thresholds.minRows) needed (--allow-empty exits 0)")
            throw ExitCode(3)
        }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RegistryError.invalidInput("cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
