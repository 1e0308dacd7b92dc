import ArgumentParser
import Foundation
import MregRegistry

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a registry: a Git repository (or a folder of the one you are in) with mreg.yaml.",
        discussion: """
            Writes mreg.yaml (environments staging and production with default gates), empty
            deploy/staging.yaml and deploy/production.yaml and a README, in one commit.
            Inside an existing repository the registry becomes a subfolder of it.

            Example:
              mreg init models-registry --name "Fraud models"
            """)

    @Argument(help: "Where to create the registry.")
    var path: String = "."

    @Option(help: "The registry's name (default: the folder's name).")
    var name: String?

    func run() throws {
        let result = try Registry.initialize(at: path, name: name)
        print("Initialized registry '\(result.name)' in \(result.directory) (commit \(result.commit.short))")
        for file in result.files { print("  \(file)") }
    }
}
