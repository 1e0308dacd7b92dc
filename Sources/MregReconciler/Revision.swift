import Foundation
import MregCore
import MregGit

/// What one commit of the registry asks of one host: the serving target of every model it must
/// serve, and the version records (with their files' checksums) those targets need.
public struct Revision: Sendable {
    public var commit: ObjectID
    public var allowEmpty: Bool
    public var models: [String: ServingTarget]
    /// `model/version` -> its version.yaml.
    public var records: [String: VersionRecord]
    /// `models/NAME/model.yaml` of each model, where there is one: its features build the smoke
    /// request of an engine that publishes no input metadata (MLServer).
    public var specs: [String: ModelSpec] = [:]
}

/// Why a commit cannot be applied; recorded, and that commit is not tried again.
public struct RevisionRejected: Error, Equatable, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension Revision {
    /// Reads the manifest of `environment` at `commit` and what `host` must serve from it.
    ///
    /// `prefix` is the registry folder inside the repository (`""` at the root, or `ml/`).
    static func read(
        _ repository: Repository, commit: ObjectID, prefix: String, environment: String, host: String
    ) throws -> Revision {
        let root = try repository.treeID(ofCommit: commit)
        func text(_ path: String) throws -> String? {
            guard let data = try repository.file(at: prefix + path, inTree: root) else { return nil }
            guard let s = String(data: data, encoding: .utf8) else { throw RevisionRejected("\(prefix)\(path): not valid UTF-8") }
            return s
        }
        let manifestPath = Manifest.path(environment)
        guard let manifestText = try text(manifestPath) else {
            throw RevisionRejected("\(prefix)\(manifestPath) does not exist at \(commit.short)")
        }
        let manifest: Manifest
        do {
            manifest = try Manifest.parse(manifestText, file: prefix + manifestPath, expectedEnvironment: environment)
        } catch {
            throw RevisionRejected("invalid manifest: \(error)")
        }
        var models = [String: ServingTarget]()
        var records = [String: VersionRecord]()
        var specs = [String: ModelSpec]()
        for (name, deployment) in manifest.models where deployment.servedBy(host: host) {
            let target = ServingTarget(version: deployment.version, canary: deployment.canary)
            for version in target.versions {
                let path = "models/\(name)/\(version)/\(VersionRecord.fileName)"
                guard let recordText = try text(path) else {
                    throw RevisionRejected("\(prefix)\(manifestPath) names \(name)@\(version), which does not exist at \(commit.short)")
                }
                let record: VersionRecord
                do {
                    record = try VersionRecord.parse(recordText, file: prefix + path)
                } catch {
                    throw RevisionRejected("\(error)")
                }
                guard record.model == name, record.version == version else {
                    throw RevisionRejected("\(prefix)\(path) describes \(record.model)@\(record.version), not \(name)@\(version)")
                }
                records[name + "/" + version] = record
            }
            models[name] = target
            if let specText = try text(ModelSpec.path(name)) {
                do {
                    specs[name] = try ModelSpec.parse(specText, file: prefix + ModelSpec.path(name), expectedName: name)
                } catch {
                    throw RevisionRejected("\(error)")
                }
            }
        }
        return Revision(commit: commit, allowEmpty: manifest.allowEmpty, models: models, records: records, specs: specs)
    }

    /// The bytes of every file of a version (and its version.yaml) as committed.
    static func files(
        _ repository: Repository, commit: ObjectID, prefix: String, record: VersionRecord
    ) throws -> (files: [(VersionFile, Data)], versionYAML: Data) {
        let root = try repository.treeID(ofCommit: commit)
        let folder = prefix + "models/\(record.model)/\(record.version)/"
        var out = [(VersionFile, Data)]()
        for file in record.files {
            guard let entry = try repository.entry(at: folder + file.path, inTree: root), entry.kind == .blob else {
                throw RevisionRejected("\(record.model)@\(record.version): file '\(file.path)' listed in version.yaml is missing from the commit")
            }
            out.append((file, try repository.blob(entry.id)))
        }
        let yaml = try repository.file(at: folder + VersionRecord.fileName, inTree: root) ?? Data()
        return (out, yaml)
    }
}
