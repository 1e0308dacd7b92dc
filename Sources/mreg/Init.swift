import ArgumentParser
import Foundation
import MregRegistry

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a registry: a Git repository with mreg.yaml (or, with --subfolder, a folder of the one you are in).",
        discussion: """
            Writes mreg.yaml (environments staging and production with default gates), empty
            deploy/staging.yaml and deploy/production.yaml, a README and a CI pipeline that runs
            mreg verify and mreg evaluate --changed on every pull request, in one commit.

            DIR becomes a new Git repository, or uses the one whose root it already is. Inside
            another repository's work tree mreg refuses unless told which way: --new-repository
            (a repository of its own at DIR) or --subfolder (monorepo mode: the registry is a
            folder of the enclosing repository, the CI file goes to that repository's root and
            runs in the folder; reconcile it with --path).

            Example:
              mreg init models-registry --name "Fraud models"
              mreg init --ci gitlab
              mreg init ml/registry --subfolder
            """)

    @Argument(help: "Where to create the registry.")
    var path: String = "."

    @Option(help: "The registry's name (default: the folder's name).")
    var name: String?

    @Option(help: "CI pipeline to install: github (.github/workflows/mreg.yml), gitlab (.gitlab-ci.yml) or none.")
    var ci: String = "github"

    @Flag(help: "Make DIR a repository of its own even inside another repository's work tree.")
    var newRepository = false

    @Flag(help: "Make the registry a folder of the repository that contains DIR (monorepo mode).")
    var subfolder = false

    func validate() throws {
        guard ["github", "gitlab", "none"].contains(ci) else { throw ValidationError("--ci must be github, gitlab or none, not '\(ci)'") }
        if newRepository && subfolder { throw ValidationError("--new-repository and --subfolder exclude each other") }
    }

    func run() throws {
        let placement: InitPlacement = subfolder ? .subfolder : newRepository ? .newRepository : .standalone
        let result = try Registry.initialize(at: path, name: name, ciFiles: try Registry.ciFiles(ci), placement: placement)
        let folder = result.prefix.isEmpty ? "" : " (folder \(result.prefix.dropLast()) of its repository)"
        print("Initialized registry '\(result.name)' in \(result.directory)\(folder) (commit \(result.commit.short))")
        for file in result.files { print("  \(file)") }
    }
}
