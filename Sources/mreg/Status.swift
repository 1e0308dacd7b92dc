import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what each environment serves according to main, since when, by whom, and whether gates pass.",
        discussion: """
            Examples:
              mreg status
              mreg status --env production --json
            """)

    @OptionGroup var options: RegistryOptions

    @Option(help: "Only this environment.")
    var env: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let status = try options.open().status(environment: env)
        if json {
            printJSON(["environments": .array(status.map { e in
                ["environment": .string(e.environment), "models": .array(e.models.map { m in
                    var o: [String: JSONValue] = [
                        "model": .string(m.model), "deployment": m.deployment.json, "gatesPassed": .bool(m.passed),
                        "failedGates": .array(m.gates.filter { !$0.passed }.map { .string("\($0.rule): \($0.detail)") }),
                    ]
                    if let s = m.since {
                        o["since"] = ["commit": .string(s.id.hex), "author": .string(s.author.formatted),
                                      "time": .number(Double(s.committer.time)), "summary": .string(s.summary)]
                    }
                    return .object(o)
                })]
            })])
            return
        }
        var rows = [[String]]()
        for e in status {
            if e.models.isEmpty { rows.append([e.environment, "-", "-", "-", "-", "-", "-"]) }
            for m in e.models {
                let failed = m.gates.filter { !$0.passed }.map(\.rule)
                rows.append([
                    e.environment, m.model, m.deployment.text, m.since.map { dateText($0.committer.time) } ?? "-",
                    m.since?.id.short ?? "-", m.since?.author.name ?? "-", failed.isEmpty ? "pass" : "FAIL: " + failed.joined(separator: ", "),
                ])
            }
        }
        print(table(["ENVIRONMENT", "MODEL", "SERVES", "SINCE (UTC)", "COMMIT", "BY", "GATES"], rows))
    }
}
