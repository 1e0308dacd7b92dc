import ArgumentParser
import Foundation
import MregGit
import MregKubernetes
import MregRegistry

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write Kubernetes objects for an environment from deploy/ENV.yaml on main: KServe InferenceServices or a Deployment.",
        discussion: """
            --target kserve: one InferenceService (serving.kserve.io/v1beta1, protocol v2) per model, its
            storageUri the version in the artifact store, canaryTrafficPercent the manifest's canary weight,
            and the mreg ClusterServingRuntime when a model is served by mreg itself. --target k8s: a
            Deployment running `mreg serve` with `mreg reconcile` beside it, and its Service. Output is
            byte-identical for the same input. --out writes a folder; --branch commits to a branch (one
            commit per commit of main whose render differs, trailer Mreg-Rendered-From) that Argo CD or
            Flux watches. See docs/kubernetes.md.

            Examples:
              mreg render --env production --target kserve --out k8s/production
              mreg render --env production --target kserve --branch k8s --push
              mreg render --env staging --target k8s --repo https://git.example.com/ml/registry.git --out k8s/staging
            """)

    @OptionGroup var options: RegistryOptions

    @Option(help: "The environment whose deploy/ENV.yaml to render.")
    var env: String

    @Option(help: "kserve or k8s.")
    var target: String = "kserve"

    @Option(help: "Write the files into this folder.")
    var out: String?

    @Option(help: "Commit the files to this branch (one commit per commit of main that changes them).")
    var branch: String?

    @Option(help: "The folder of the branch to write (default: the environment's name; '' for the root).")
    var folder: String?

    @Option(help: "A revision of main to render instead of its tip.")
    var revision: String?

    @Option(help: "The container image with the mreg binary (default: the manifest's kubernetes.image, else mreg:latest).")
    var image: String?

    @Option(help: "The namespace of every object (default: the manifest's kubernetes.namespace, else none).")
    var namespace: String?

    @Option(help: "--target k8s: the Git URL the reconciler follows (default: the manifest's kubernetes.repository).")
    var repo: String?

    @Option(name: .customLong("push"), help: ArgumentHelp("With --branch: push the branch to this remote, a name or a URL (a bare --push: origin); a new local branch starts from its copy.", valueName: "remote"))
    var pushRemote: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard RenderTarget(rawValue: target) != nil else { throw ValidationError("--target must be kserve or k8s, not '\(target)'") }
        guard (out == nil) != (branch == nil) else { throw ValidationError("give exactly one of --out DIR or --branch NAME") }
        if pushRemote != nil && branch == nil { throw ValidationError("--push needs --branch") }
        if folder != nil && branch == nil { throw ValidationError("--folder needs --branch") }
    }

    func run() throws {
        let registry = try options.open()
        let request = RenderRequest(environment: env, target: RenderTarget(rawValue: target)!, revision: revision,
                                    image: image, namespace: namespace, repository: repo)
        var report: RenderReport
        if let out {
            report = try registry.renderToFolder(request, folder: out)
        } else {
            report = try registry.renderToBranch(request, branch: branch!, folder: folder ?? env, remote: pushRemote ?? "origin")
        }
        var pushed: String?
        // Nothing rendered and no local branch (a CI checkout with nothing new): nothing to push.
        if let pushRemote, let branch, try registry.repository.referenceTarget("refs/heads/" + branch) != nil {
            pushed = try registry.push(branch: branch, remote: pushRemote)
        }
        if json { return try printReport(report) }
        if let branch {
            if report.commits.isEmpty {
                print("\(branch): up to date with main (\(report.source.prefix(12)))")
            }
            for c in report.commits { print("\(branch): \(c.commit.prefix(12)) renders main \(c.source.prefix(12))") }
        } else {
            for f in report.written { print("wrote \(out! + "/" + f)") }
            for f in report.removed { print("removed \(out! + "/" + f)") }
            if report.written.isEmpty && report.removed.isEmpty { print("\(out!): up to date (\(report.unchanged.count) files)") }
        }
        if let pushed { print("pushed \(branch!) to \(pushed)") }
    }
}
