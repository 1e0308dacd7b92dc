import ArgumentParser
import Foundation
import MregRegistry

struct Quickstart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole mreg flow on the bundled penguins data in a new registry.",
        discussion: """
            Example:
              mreg quickstart /tmp/demo
            """)

    @Argument(help: "Where to create the demo registry.")
    var directory: String = "./mreg-quickstart"

    func run() throws {
        throw ValidationError("quickstart is not built yet")
    }
}
