import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Card: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "card",
        abstract: "Print a version's model card, or set its front-matter fields and commit.",
        discussion: """
            card.md is the one file of a version that may change after registration: people
            complete it in a pull request. A card is complete when owner, intended_use,
            limitations and license are filled and its metrics agree with metrics.json.

            Examples:
              mreg card penguins@v3
              mreg card penguins@v3 --set owner=ml-team --set license=apache-2.0
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION or MODEL@ENV.")
    var reference: String

    @Option(name: .customLong("set"), help: "FIELD=VALUE; repeat for more.")
    var sets: [String] = []

    @Option(name: [.short, .long], help: "A note kept in the commit.")
    var message: String?

    func validate() throws {
        for s in sets where !s.contains("=") || s.hasPrefix("=") { throw ValidationError("--set '\(s)' is not FIELD=VALUE") }
    }

    func run() throws {
        let registry = try options.open()
        let ref = try ModelReference(parsing: reference)
        if sets.isEmpty {
            print(try registry.cardText(ref).text, terminator: "")
            return
        }
        let fields = sets.map { s -> (String, String) in
            let parts = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts[1]))
        }
        let result = try registry.setCard(ref, fields: fields, message: message)
        let card = try registry.head().card(ref.model, result.version)
        let missing = card?.missingFields ?? []
        print("Updated the card of \(ref.model)@\(result.version) (commit \(result.commit.short)); "
              + (missing.isEmpty ? "it is complete" : "still empty: \(missing.joined(separator: ", "))"))
    }
}
