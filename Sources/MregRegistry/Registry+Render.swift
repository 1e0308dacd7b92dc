import Foundation
import MregCore
import MregGit
import MregKubernetes

/// What `mreg render` is asked to render.
public struct RenderRequest: Sendable {
    public var environment: String
    public var target: RenderTarget
    /// A revision of main to render (`main~3`, a commit id); nil: main's tip.
    public var revision: String?
    /// Override the manifest's `kubernetes:` settings.
    public var image: String?
    public var namespace: String?
    public var repository: String?

    public init(environment: String, target: RenderTarget, revision: String? = nil, image: String? = nil,
                namespace: String? = nil, repository: String? = nil) {
        self.environment = environment
        self.target = target
        self.revision = revision
        self.image = image
        self.namespace = namespace
        self.repository = repository
    }
}

/// What a render to a folder or a branch did.
public struct RenderReport: Codable, Sendable, Equatable {
    public var environment: String
    public var target: String
    /// The commit of main rendered last.
    public var source: String
    /// Files written (or committed), relative to the output folder.
    public var written: [String]
    /// Files left as they were because their text was already right.
    public var unchanged: [String]
    /// Files of an earlier render that this one no longer has, removed.
    public var removed: [String]
    /// `--branch`: the commits made, oldest first, each with the commit of main it renders.
    public var commits: [RenderCommit]
}

/// One commit `mreg render --branch` made.
public struct RenderCommit: Codable, Sendable, Equatable {
    public var commit: String
    public var source: String
}

extension Registry {
    /// The trailer naming the commit of main a rendered commit came from.
    public static let renderedFromTrailer = "Mreg-Rendered-From"

    /// The files of a render of main (or `request.revision`), and the commit they come from.
    public func render(_ request: RenderRequest) throws -> (files: [RenderedFile], source: ObjectID) {
        let main = try self.main()
        var source = main.commit
        if let revision = request.revision {
            guard let id = try repository.resolveCommit(revision) else {
                throw RegistryError.invalidInput("revision '\(revision)' names no commit")
            }
            source = id
        }
        return (try render(request, at: source), source)
    }

    /// The files of a render of the registry as of `commit`.
    func render(_ request: RenderRequest, at commit: ObjectID) throws -> [RenderedFile] {
        let snap = try snapshot(commit: commit)
        let config = try snap.config()
        guard config.environment(request.environment) != nil else {
            throw RegistryError.invalidInput("no environment '\(request.environment)' in \(RegistryConfig.fileName) (have \(config.environments.map(\.name).joined(separator: ", ")))")
        }
        var manifest = try snap.manifest(request.environment) ?? Manifest(environment: request.environment)
        var settings = manifest.kubernetes ?? KubernetesSettings()
        if let ns = request.namespace {
            guard KubernetesSettings.isValidName(ns) else { throw RegistryError.invalidInput("namespace '\(ns)' is not a Kubernetes name (a-z 0-9 -, at most 63)") }
            settings.namespace = ns
        }
        manifest.kubernetes = settings
        var versions = [String: RenderedVersion]()
        for (model, deployment) in manifest.models {
            for version in [deployment.version] + (deployment.canary.map { [$0.version] } ?? []) {
                let record = try snap.versionRecord(model, version)
                versions["\(model)@\(version)"] = RenderedVersion(format: record.format, artifact: record.artifact)
            }
        }
        let input = RenderInput(
            manifest: manifest, versions: versions,
            deployedIn: try deployedIn(manifest, environment: request.environment, from: commit),
            versionURI: kubernetesVersionURI(config),
            image: request.image ?? settings.image ?? "mreg:latest",
            repository: request.repository ?? settings.repository,
            registryPath: prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix,
            mainBranch: config.mainBranch)
        do {
            return try KubernetesRender.render(input, target: request.target)
        } catch {
            throw RegistryError.invalidInput(error.description)
        }
    }

    /// For each model of `manifest`, the first-parent commit at or before `tip` from which its entry
    /// has been what it is now (the commit that deployed it).
    func deployedIn(_ manifest: Manifest, environment: String, from tip: ObjectID) throws -> [String: String] {
        var open = Set(manifest.models.keys)
        var found = [String: String]()
        var oldest = tip
        try changeIndex.walk(from: tip) { id, record in
            oldest = id
            guard record.deploy else { return true }
            let before: Manifest?
            if let parent = record.parent {
                // An older manifest that no longer parses differs from every entry.
                do { before = try snapshot(commit: parent).manifest(environment) } catch { before = nil }
            } else {
                before = nil
            }
            for model in open where before?.models[model] != manifest.models[model] {
                found[model] = id.hex
                open.remove(model)
            }
            return !open.isEmpty
        }
        for model in open { found[model] = oldest.hex }
        return found
    }
}
