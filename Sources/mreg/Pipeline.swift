import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Pipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run training pipelines described in a file.",
        subcommands: [PipelineRunCommand.self])
}

struct PipelineRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: data -> split -> train -> evaluate -> gate -> register -> promote.",
        discussion: """
            The file (docs/pipelines.md; an example in templates/files/pipeline.yaml) names the
            data and its expected schema, the holdout split, the algorithm and search, the gate
            on the holdout metrics, and the environment to propose the version to. Each step's
            inputs and outputs are recorded in the registered version. A rerun with unchanged
            inputs does no work and says so. A failing gate registers nothing and exits 1.
            The promotion is a branch and a pull-request body, never a deploy: it is merged here
            only when the file says so, and never for the last environment (production).

            Examples:
              mreg pipeline run retrain.yaml --data data/2026-11.csv
              mreg pipeline run retrain.yaml --dry-run
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "A CSV file that replaces data.path.")
    var data: String?

    @Flag(help: "Check the file and the data and show the plan; train and write nothing.")
    var dryRun = false

    @Flag(help: "Print the run as JSON.")
    var json = false

    func run() throws {
        let registry = try options.open()
        let run = try registry.runPipeline(file: file, data: data, dryRun: dryRun)
        if json {
            var out: [String: JSONValue] = [
                "name": .string(run.name), "passed": .bool(run.passed), "unchanged": .bool(run.unchanged),
                "steps": .array(run.steps.map { s in
                    ["name": .string(s.name), "status": .string(s.status.rawValue), "key": s.key.map(JSONValue.string) ?? .null,
                     "summary": .string(s.summary), "outputs": s.outputs]
                }),
            ]
            if let r = run.registration { out["registered"] = ["model": .string(r.model), "version": .string(r.version), "commit": .string(r.commit.hex)] }
            if let p = run.promotion { out["promotion"] = ["branch": .string(p.branch), "title": .string(p.title), "body": .string(p.body)] }
            printJSON(.object(out))
        } else {
            print("pipeline \(run.name)")
            for s in run.steps {
                print("  \(s.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(s.status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(s.summary)")
            }
            if let p = run.promotion {
                print("\nPull request title:\n\(p.title)\n\nPull request body:\n\(p.body)", terminator: "")
            }
        }
        if !run.passed { throw CheckFailed(message: "the pipeline's gate failed" + (run.registration == nil ? "; nothing registered" : "; registered as rejected")) }
    }
}
