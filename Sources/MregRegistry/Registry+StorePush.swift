import Foundation
import MregCore
import MregGit
import MregStore

/// What `mreg store push` did.
public struct StorePushReport: Codable, Sendable, Equatable {
    /// The store, as `mreg.yaml` names it (no credentials).
    public var store: String
    public var versions: Int
    /// Content objects sent, and those the store had already.
    public var uploaded: Int
    public var present: Int
}

extension Registry {
    /// Every file (path relative to the version folder, and bytes) of every version on main.
    func versionFiles(_ snap: Snapshot) throws -> [(model: String, version: String, files: [(path: String, data: Data)])] {
        var out = [(model: String, version: String, files: [(path: String, data: Data)])]()
        for model in try snap.modelNames() {
            for version in try snap.versionNames(model) {
                guard let entry = try snap.entry(Snapshot.versionPath(model, version)), entry.kind == .tree else { continue }
                var files = [(path: String, data: Data)]()
                try collectBlobs(entry.id, prefix: "", into: &files)
                out.append((model, version, files.sorted { $0.path < $1.path }))
            }
        }
        return out
    }

    private func collectBlobs(_ tree: ObjectID, prefix: String, into files: inout [(path: String, data: Data)]) throws {
        for e in try repository.entries(ofTree: tree) {
            switch e.kind {
            case .tree: try collectBlobs(e.id, prefix: prefix + e.name + "/", into: &files)
            case .blob: files.append((prefix + e.name, try repository.blob(e.id)))
            default: continue
            }
        }
    }

    /// Fills the store `mreg.yaml` on main names with every version on main: each file as a content
    /// object (sent once, skipped when present with the right size), and each version's folder
    /// (`models/MODEL/vN/`) for engines that load by URI (KServe's `storageUri`). Run it after
    /// configuring a store, or in CI after each merge; it is idempotent.
    public func pushToStore(environment: [String: String], scratch: String) async throws -> StorePushReport {
        let main = try self.main()
        guard let config = try main.config().store else {
            throw RegistryError.invalidInput("\(RegistryConfig.fileName) on main has no store: section (docs/artifacts.md)")
        }
        let store = try ContentStore(config: config, environment: environment)
        var report = StorePushReport(store: config.url, versions: 0, uploaded: 0, present: 0)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        for version in try versionFiles(main) {
            var view = [ViewFile]()
            for file in version.files {
                let sha = SHA256.hex(file.data)
                let local = scratch + "/" + sha
                try file.data.write(to: URL(fileURLWithPath: local), options: .atomic)
                defer { unlink(local) }
                if try await store.put(file: local, sha256: sha, size: file.data.count) { report.uploaded += 1 } else { report.present += 1 }
                view.append(ViewFile(path: file.path, size: file.data.count, sha256: sha, localPath: nil))
            }
            try await store.putVersionView(model: version.model, version: version.version, files: view)
            report.versions += 1
        }
        return report
    }
}
