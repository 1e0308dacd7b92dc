import Foundation
import MregCore
import MregGit
import MregTemplates

/// What `mreg init` made.
public struct InitResult {
    public var directory: String
    public var name: String
    public var commit: ObjectID
    public var files: [String]
}

extension Registry {
    /// Creates a registry in `path`: a new Git repository, or a subfolder of the repository that
    /// already contains `path`. Refuses a folder that already holds `mreg.yaml`.
    public static func initialize(
        at path: String, name: String?, ciFiles: [String: String] = [:],
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
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if (try? Repository.open(at: dir, search: true))?.workdir == nil {
            _ = try Repository.create(at: dir)
        }
        let registry = try Registry.open(directory: dir, environment: environment)
        let branch = try registry.currentBranch()
        var files = [String: String]()
        files[RegistryConfig.fileName] = try template("mreg.yaml").replacingOccurrences(
            of: "{{name}}", with: YAMLNode.scalar(.string(registryName)))
        _ = try RegistryConfig.parse(files[RegistryConfig.fileName]!)
        for env in ["staging", "production"] {
            files[Manifest.path(env)] = Manifest(environment: env).render()
        }
        files["README.md"] = try template("registry-README.md").replacingOccurrences(of: "{{name}}", with: registryName)
        for (path, text) in ciFiles { files[path] = text }
        var changes = [String: TreeChange]()
        for (path, text) in files {
            // Never overwrite a file the folder already has (a README of a monorepo, say).
            if path != RegistryConfig.fileName, fm.fileExists(atPath: dir + "/" + path) { continue }
            changes[path] = .blob(try registry.repository.writeBlob(Data(text.utf8)))
        }
        let parent = try registry.repository.referenceTarget(branch)
        if let parent, let tip = try? registry.snapshot(commit: parent), tip.exists {
            throw RegistryError.alreadyRegistry(path)
        }
        let commit = try registry.commit(changes, onBranch: branch, parent: parent, message: "Initialize registry \(registryName)")
        return InitResult(directory: dir, name: registryName, commit: commit, files: changes.keys.sorted())
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
