import ArgumentParser
import Foundation
import MregRegistry

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a registry: a Git repository (or a folder of the one you are in) with mreg.yaml.",
        discussion: """
            Writes mreg.yaml (environments staging and production with default gates), empty
            deploy/staging.yaml and deploy/production.yaml, a README and a CI pipeline that runs
            mreg verify and mreg evaluate --changed on every pull request, in one commit. Inside
            an existing repository the registry becomes a subfolder of it (CI files then belong
            at the repository's root: move them there).

            Example:
              mreg init models-registry --name "Fraud models"
              mreg init --ci gitlab
            """)

    @Argument(help: "Where to create the registry.")
    var path: String = "."

    @Option(help: "The registry's name (default: the folder's name).")
    var name: String?

    @Option(help: "CI pipeline to install: github (.github/workflows/mreg.yml), gitlab (.gitlab-ci.yml) or none.")
    var ci: String = "github"

    func validate() throws {
        guard ["github", "gitlab", "none"].contains(ci) else { throw ValidationError("--ci must be github, gitlab or none, not '\(ci)'") }
    }

    func run() throws {
        let result = try Registry.initialize(at: path, name: name, ciFiles: try Registry.ciFiles(ci))
        print("Initialized registry '\(result.name)' in \(result.directory) (commit \(result.commit.short))")
        for file in result.files { print("  \(file)") }
    }
}
