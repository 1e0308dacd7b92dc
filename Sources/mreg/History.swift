import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show a model's registrations and deployment changes, from the commit log.",
        discussion: """
            Follows the first-parent history of the current branch, so a pull request merged by
            a Git host (merge, squash or rebase) counts once, when it landed. Newest first.

            Example:
              mreg history penguins --limit 20
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The model.")
    var model: String

    @Option(help: "Show at most this many events.")
    var limit: Int?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let events = try options.open().history(try Names.model(model), limit: limit ?? .max)
        if json {
            printJSON(["model": .string(model), "events": .array(events.map { e in
                var o: [String: JSONValue] = [
                    "kind": .string(e.kind.rawValue), "commit": .string(e.commit.hex), "author": .string(e.author),
                    "time": .number(Double(e.time)), "detail": .string(e.detail), "summary": .string(e.summary),
                ]
                if let v = e.version { o["version"] = .string(v) }
                if let v = e.environment { o["environment"] = .string(v) }
                if let v = e.previous { o["previous"] = .string(v) }
                if let v = e.forced { o["forced"] = .string(v) }
                return .object(o)
            })])
            return
        }
        if events.isEmpty {
            print("No history for \(model).")
            return
        }
        print(table(["DATE (UTC)", "COMMIT", "AUTHOR", "WHAT"], events.map { e in
            [dateText(e.time), e.commit.short, e.author, e.detail]
        }))
    }
}
