import Foundation
import MregCore
import MregGit

/// The registry as of one commit: every read goes through here.
public struct Snapshot {
    let repository: Repository
    public let commit: ObjectID
    /// The registry folder's tree in that commit, nil when the folder does not exist there.
    public let tree: ObjectID?
    let prefix: String
    /// Parsed files of this commit, so repeated reads cost nothing.
    let cache = SnapshotCache()

    /// True when the commit holds a registry (`mreg.yaml` in the registry folder).
    public var exists: Bool {
        guard let tree else { return false }
        return (try? repository.entry(at: RegistryConfig.fileName, inTree: tree)) != nil
    }

    /// The bytes of a registry file, nil when absent.
    public func data(_ path: String) throws -> Data? {
        guard let tree else { return nil }
        return try repository.file(at: path, inTree: tree)
    }

    /// The text of a registry file, nil when absent; an error when it is not UTF-8.
    public func text(_ path: String) throws -> String? {
        guard let data = try data(path) else { return nil }
        guard let text = String(data: data, encoding: .utf8) else { throw CoreError.invalidFile(file: path, message: "not valid UTF-8") }
        return text
    }

    /// The entry at a registry path.
    public func entry(_ path: String) throws -> TreeEntry? {
        guard let tree else { return nil }
        return try repository.entry(at: path, inTree: tree)
    }

    /// The folders below a registry path, by name.
    func subfolders(_ path: String) throws -> [TreeEntry] {
        guard let entry = try entry(path), entry.kind == .tree else { return [] }
        return try repository.entries(ofTree: entry.id).filter { $0.kind == .tree }
    }

    public func config() throws -> RegistryConfig {
        if let config = cache.config { return config }
        guard let text = try text(RegistryConfig.fileName) else {
            throw RegistryError.noRegistry("commit \(commit.short) has no \(prefix)\(RegistryConfig.fileName)")
        }
        let config = try RegistryConfig.parse(text)
        cache.config = config
        return config
    }

    /// Model names, sorted; folders that are not valid model names are ignored.
    public func modelNames() throws -> [String] {
        try modelEntries().map(\.name)
    }

    /// Model folders, sorted by name; folders that are not valid model names are ignored.
    func modelEntries() throws -> [TreeEntry] {
        try subfolders("models").filter { Names.isValidModelName($0.name) }.sorted { $0.name < $1.name }
    }

    /// A model's version names in numeric order (v1, v2, ..., v10).
    public func versionNames(_ model: String) throws -> [String] {
        try versionEntries(model).map(\.name)
    }

    /// A model's version folders in numeric order.
    func versionEntries(_ model: String) throws -> [TreeEntry] {
        try subfolders("models/\(model)")
            .compactMap { e in Names.versionNumber(e.name).map { (n: $0, e: e) } }
            .sorted { $0.n < $1.n }
            .map(\.e)
    }

    /// Throws `unknownModel` unless the model has a folder with `model.yaml`.
    public func requireModel(_ model: String) throws {
        guard try entry(ModelSpec.path(model)) != nil else { throw RegistryError.unknownModel(model) }
    }

    public func modelSpec(_ model: String) throws -> ModelSpec {
        guard let text = try text(ModelSpec.path(model)) else { throw RegistryError.unknownModel(model) }
        return try ModelSpec.parse(text, file: ModelSpec.path(model), expectedName: model)
    }

    /// `model.yaml` when the model has one, nil when it has none; a file that does not parse is an
    /// error naming it, never a reason to write a new one over it.
    public func modelSpecIfPresent(_ model: String) throws -> ModelSpec? {
        guard let text = try text(ModelSpec.path(model)) else { return nil }
        return try ModelSpec.parse(text, file: ModelSpec.path(model), expectedName: model)
    }

    static func versionPath(_ model: String, _ version: String) -> String { "models/\(model)/\(version)" }

    public func versionRecord(_ model: String, _ version: String) throws -> VersionRecord {
        let path = Snapshot.versionPath(model, version) + "/" + VersionRecord.fileName
        guard let text = try text(path) else {
            try requireModel(model)
            throw RegistryError.unknownVersion(model: model, version: version)
        }
        let record = try VersionRecord.parse(text, file: path)
        guard record.model == model, record.version == version else {
            throw CoreError.invalidFile(file: path, message: "describes \(record.model)@\(record.version), not \(model)@\(version)")
        }
        return record
    }

    public func metrics(_ model: String, _ version: String) throws -> MetricsFile? {
        let path = Snapshot.versionPath(model, version) + "/" + MetricsFile.fileName
        guard let data = try data(path) else { return nil }
        return try MetricsFile.parse(data, file: path)
    }

    public func card(_ model: String, _ version: String) throws -> ModelCard? {
        let path = Snapshot.versionPath(model, version) + "/" + ModelCard.fileName
        guard let text = try text(path) else { return nil }
        return try ModelCard.parse(text, file: path)
    }

    /// An environment's manifest; nil when its file does not exist.
    public func manifest(_ environment: String) throws -> Manifest? {
        if let cached = cache.manifests[environment] { return cached }
        let path = Manifest.path(environment)
        guard let text = try text(path) else { return nil }
        let manifest = try Manifest.parse(text, file: path, expectedEnvironment: environment)
        cache.manifests[environment] = manifest
        return manifest
    }

    /// Every configured environment's manifest (absent files as empty manifests), in promotion order.
    public func manifests() throws -> [(environment: String, manifest: Manifest)] {
        try config().environments.map { env in
            (env.name, try manifest(env.name) ?? Manifest(environment: env.name))
        }
    }

    /// The version a reference names: `m@v3` directly (checked to exist), `m@production` through
    /// the manifest of this snapshot.
    public func resolve(_ reference: ModelReference) throws -> String {
        switch reference.target {
        case .version(let v):
            guard try entry(Snapshot.versionPath(reference.model, v) + "/" + VersionRecord.fileName) != nil else {
                try requireModel(reference.model)
                throw RegistryError.unknownVersion(model: reference.model, version: v)
            }
            return v
        case .environment(let env):
            let config = try config()
            guard config.environment(env) != nil else {
                throw RegistryError.unknownEnvironment(env, known: config.environments.map(\.name))
            }
            guard let d = try manifest(env)?.models[reference.model] else {
                throw RegistryError.notDeployed(model: reference.model, environment: env)
            }
            return d.version
        }
    }
}

/// Memoized reads of one snapshot (a commit never changes, so neither do they).
final class SnapshotCache {
    var config: RegistryConfig?
    var manifests = [String: Manifest?]()
}
