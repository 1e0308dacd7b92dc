import ArgumentParser
import Foundation
import MregCore
import MregReconciler
import MregRegistry

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what each environment serves according to main, since when, by whom, and whether gates pass.",
        discussion: """
            Examples:
              mreg status
              mreg status --env production --json
              mreg status --hosts http://10.0.0.5:9090,http://10.0.0.6:9090

            With --hosts, shows the fleet instead: each reconciler's /status (its --listen address). A host that does not answer within 2 s is 'unknown'. Exits 1 unless every host is converged.
            """)

    @OptionGroup var options: RegistryOptions

    @Option(help: "Only this environment.")
    var env: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: "Comma-separated reconciler status URLs (their --listen addresses): show the fleet table.")
    var hosts: String?

    // Synchronous on purpose: an async command moves to a worker thread, whose new malloc arena
    // costs a reading command several milliseconds; only the fleet view needs to await.
    func run() throws {
        if let hosts {
            let urls = hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            try blocking { try await self.fleet(urls) }
            return
        }
        let status = try options.open().status(environment: env)
        if json {
            printJSON(["environments": .array(status.map { e in
                ["environment": .string(e.environment), "models": .array(e.models.map { m in
                    var o: [String: JSONValue] = [
                        "model": .string(m.model), "deployment": m.deployment.json, "gatesPassed": .bool(m.passed),
                        "failedGates": .array(m.gates.filter { !$0.passed }.map { .string("\($0.rule): \($0.detail)") }),
                        "notServed": m.notServed.map(JSONValue.string) ?? .null,
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
                    e.environment, m.model, m.deployment.text + (m.notServed == nil ? "" : " (NOT SERVED: format unknown)"), m.since.map { dateText($0.committer.time) } ?? "-",
                    m.since?.id.short ?? "-", m.since?.author.name ?? "-", failed.isEmpty ? "pass" : "FAIL: " + failed.joined(separator: ", "),
                ])
            }
        }
        print(table(["ENVIRONMENT", "MODEL", "SERVES", "SINCE (UTC)", "COMMIT", "BY", "GATES"], rows))
    }
}

extension Status {
    /// The fleet table from each host's /status.
    func fleet(_ urls: [String]) async throws {
        guard !urls.isEmpty else { throw ValidationError("--hosts needs at least one URL") }
        let reports = await FleetStatus.fetch(urls)
        if json {
            printJSON(["hosts": .array(reports.map { r in
                ["url": .string(r.url), "state": .string(r.state), "status": r.status ?? .null,
                 "error": r.error.map(JSONValue.string) ?? .null]
            })])
        } else {
            var rows = [[String]]()
            for r in reports {
                let s = r.status
                let models = (s?["models"]?.arrayValue ?? []).compactMap { m -> String? in
                    guard let name = m["name"]?.stringValue else { return nil }
                    if m["state"]?.stringValue == "failed" { return "\(name) NOT SERVED" }
                    let serving = m["serving"]?["version"]?.stringValue ?? "-"
                    let canary = m["serving"]?["canary"].flatMap { c in
                        c["version"]?.stringValue.map { " +\($0) \(c["weight"]?.intValue ?? 0)%" }
                    } ?? ""
                    return "\(name)@\(serving)\(canary)"
                }
                let notServed = r.notServed.map { "\($0.model): \($0.reason)" }.joined(separator: "; ")
                let problem = r.error ?? (r.state == "converged" ? nil : r.state == "degraded" ? notServed
                    : s?["failed"]?["reason"]?.stringValue ?? s?["lastError"]?["message"]?.stringValue)
                rows.append([
                    s?["host"]?.stringValue ?? "?", r.url, r.state,
                    s?["appliedCommit"]?.stringValue.map { String($0.prefix(12)) } ?? "-",
                    s?["desiredCommit"]?.stringValue.map { String($0.prefix(12)) } ?? "-",
                    models.isEmpty ? "-" : models.joined(separator: ", "), problem ?? "",
                ])
            }
            print(table(["HOST", "URL", "STATE", "APPLIED", "DESIRED", "SERVING", "PROBLEM"], rows))
        }
        if reports.contains(where: { $0.state != "converged" }) { throw CheckFailed(message: nil) }
    }
}
