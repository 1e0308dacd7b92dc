import Foundation
import MregCore
import MregGit
import MregTemplates

/// What `mreg init` made.
public struct InitResult {
    public var directory: String
    public var name: String
    public var commit: ObjectID
    /// Paths relative to the repository root.
    public var files: [String]
    /// The registry folder inside its repository (`models/` for a monorepo subfolder); empty at the root.
    public var prefix: String
}

/// Where `mreg init` puts the registry relative to Git repositories.
public enum InitPlacement: Sendable {
    /// DIR is a repository's root (an existing one, or a new one made there); refuse when DIR lies
    /// inside another repository's work tree.
    case standalone
    /// Always make a new repository at DIR, even inside another repository's work tree.
    case newRepository
    /// The registry is a subfolder of the repository that contains DIR (monorepo mode); CI files go
    /// to the repository's root, where Git hosts run them.
    case subfolder
}

extension Registry {
    /// Creates a registry in `path`: at the root of a repository (a new one, or the one whose root
    /// `path` is), or with `.subfolder` inside the repository that contains it. Never commits into a
    /// repository `path` merely lies inside unless asked. Refuses a folder that already holds `mreg.yaml`.
    public static func initialize(
        at path: String, name: String?, ciFiles: [String: String] = [:], placement: InitPlacement = .standalone,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        cwd: String = FileManager.default.currentDirectoryPath
    ) throws -> InitResult {
        let fm = FileManager.default
        let dir = absolute(path, relativeTo: cwd)
        if fm.fileExists(atPath: dir + "/" + RegistryConfig.fileName) { throw RegistryError.alreadyRegistry(path) }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir), !isDir.boolValue {
            throw RegistryError.invalidInput("'\(path)' exists and is not a folder")
        }
        let registryName = name ?? defaultName(for: dir)
        guard !registryName.isEmpty, registryName.count <= 200, !registryName.contains("\n") else {
            throw RegistryError.invalidInput("registry name must be one line of 1-200 characters")
        }
        let enclosing = try enclosingWorkTree(of: dir)
        switch placement {
        case .standalone:
            if let root = enclosing, realPath(root) != realPath(dir) {
                throw RegistryError.invalidInput(
                    "'\(path)' is inside the Git repository at '\(root)'; pass --new-repository for a repository of its own at '\(path)', or --subfolder to make the registry a folder of that repository")
            }
        case .newRepository, .subfolder:
            if placement == .subfolder && enclosing == nil {
                throw RegistryError.invalidInput("--subfolder needs '\(path)' to be inside a Git repository's work tree")
            }
        }
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if enclosing == nil || (placement == .newRepository && realPath(enclosing!) != realPath(dir)) {
            _ = try Repository.create(at: dir)
        }
        let registry = try Registry.open(directory: dir, environment: environment)
        let branch = try registry.currentBranch()
        var files = [String: String]()
        // Main is the branch the registry starts on (a clone's `master`, say), so status and the
        // gate find it.
        files[RegistryConfig.fileName] = try template("mreg.yaml")
            .replacingOccurrences(of: "{{name}}", with: YAMLNode.scalar(.string(registryName)))
            .replacingOccurrences(of: "\nmainBranch: main\n", with: "\nmainBranch: \(YAMLNode.scalar(.string(shortName(branch))))\n")
        _ = try RegistryConfig.parse(files[RegistryConfig.fileName]!)
        for env in ["staging", "production"] {
            files[Manifest.path(env)] = Manifest(environment: env).render()
        }
        files["README.md"] = try template("registry-README.md").replacingOccurrences(of: "{{name}}", with: registryName)
        var changes = [String: TreeChange]()
        for (path, text) in files {
            // Never overwrite a file the folder already has (a README of a monorepo, say).
            if path != RegistryConfig.fileName, fm.fileExists(atPath: dir + "/" + path) { continue }
            changes[path] = .blob(try registry.repository.writeBlob(Data(text.utf8)))
        }
        // CI files belong at the repository's root, where Git hosts look for them; in a subfolder
        // registry they run the registry's commands in that folder.
        var rootChanges = [String: TreeChange]()
        let workdir = registry.repository.workdir.map { String($0.hasSuffix("/") ? $0.dropLast() : $0[...]) }
        for (path, text) in ciFiles {
            if let workdir, fm.fileExists(atPath: workdir + "/" + path) {
                throw RegistryError.invalidInput("'\(path)' already exists at the repository's root; pass --ci none and add the mreg job to it by hand (docs/workflow.md)")
            }
            let body = registry.prefix.isEmpty ? text : ciText(text, folder: String(registry.prefix.dropLast()))
            rootChanges[path] = .blob(try registry.repository.writeBlob(Data(body.utf8)))
        }
        let parent = try registry.repository.referenceTarget(branch)
        if let parent, let tip = try? registry.snapshot(commit: parent), tip.exists {
            throw RegistryError.alreadyRegistry(path)
        }
        var full = rootChanges
        for (path, change) in changes { full[registry.prefix + path] = change }
        let commit = try registry.repository.commit(
            changes: full, onBranch: branch, parent: parent, message: "Initialize registry \(registryName)", identity: try registry.identity())
        return InitResult(directory: dir, name: registryName, commit: commit, files: full.keys.sorted(), prefix: registry.prefix)
    }

    /// The root of the work tree that contains `dir` (or its nearest existing parent), if any.
    static func enclosingWorkTree(of dir: String) throws -> String? {
        var probe = dir
        let fm = FileManager.default
        while !fm.fileExists(atPath: probe), probe != "/" { probe = (probe as NSString).deletingLastPathComponent }
        guard let repo = try openIfPresent(probe) else { return nil }
        guard let workdir = repo.workdir else {
            throw RegistryError.invalidInput("'\(dir)' is inside the bare repository at '\(repo.gitDir)'")
        }
        return workdir.count > 1 && workdir.hasSuffix("/") ? String(workdir.dropLast()) : workdir
    }

    /// The repository at or above `path`; nil only when there is none (GIT_ENOTFOUND), any other
    /// failure (a damaged repository) is thrown.
    static func openIfPresent(_ path: String) throws -> Repository? {
        do throws(GitError) {
            return try Repository.open(at: path, search: true)
        } catch {
            if error.code == -3 { return nil }
            throw error
        }
    }

    /// A CI template made to run on the registry folder `folder` of a larger repository: its
    /// `MREG_REGISTRY` variable names the folder.
    static func ciText(_ text: String, folder: String) -> String {
        text.replacingOccurrences(of: "MREG_REGISTRY: \".\"", with: "MREG_REGISTRY: \"\(folder)\"")
    }

    /// The CI files `mreg init --ci` installs: `github`, `gitlab` or `none`.
    public static func ciFiles(_ kind: String) throws -> [String: String] {
        switch kind {
        case "github": return [".github/workflows/mreg.yml": try template("ci/github-actions.yml")]
        case "gitlab": return [".gitlab-ci.yml": try template("ci/gitlab-ci.yml")]
        case "none": return [:]
        default: throw RegistryError.invalidInput("--ci must be github, gitlab or none, not '\(kind)'")
        }
    }

    static func defaultName(for dir: String) -> String {
        let base = (dir as NSString).lastPathComponent
        return base.isEmpty || base == "/" ? "registry" : base
    }

    static func template(_ name: String) throws -> String {
        guard let text = Templates.text(name) else {
            throw RegistryError.invalidInput("template '\(name)' is missing from this mreg build")
        }
        return text
    }
}
