import Foundation
import MregCore

/// One file of a version as the version view needs it: its path inside the version, size, sha256,
/// and where its bytes are now (a local file), or nil when they are in the store already.
public struct ViewFile: Sendable, Equatable {
    public var path: String
    public var size: Int
    public var sha256: String
    public var localPath: String?

    public init(path: String, size: Int, sha256: String, localPath: String?) {
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.localPath = localPath
    }
}

/// The content-addressed layer over an `ArtifactStore`: objects named by their sha256, written once,
/// checked on the way out; and the version view (`models/MODEL/vN/…`) for engines that load a folder.
public struct ContentStore: Sendable {
    public let config: StoreConfig
    public let backend: any ArtifactStore

    /// Opens the store `config` names; `environment` supplies S3 credentials and region.
    public init(config: StoreConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ArtifactStoreError) {
        self.config = config
        self.backend = try openArtifactStore(config, environment: environment)
    }

    public init(config: StoreConfig, backend: any ArtifactStore) {
        self.config = config
        self.backend = backend
    }

    /// Puts the local file `path` into the store as the object of `sha256`, unless an object of
    /// that name and `size` is there already; returns whether bytes were sent. The bytes are not
    /// re-hashed here: callers pass the checksum they recorded from the same file.
    @discardableResult
    public func put(file path: String, sha256: String, size: Int) async throws(ArtifactStoreError) -> Bool {
        let key = StoreConfig.objectKey(sha256: sha256)
        if let present = try await backend.size(of: key) {
            guard present == size else {
                throw .corrupt(store: backend.name, key: key, message: "it has \(present) bytes, the record says \(size)")
            }
            return false
        }
        try await backend.upload(path, size: size, to: key)
        return true
    }

    /// Downloads the object of `sha256` to `destination`: into `destination.partial` first, hashed
    /// as it arrives, renamed into place only when size and checksum match. A mismatch leaves
    /// nothing behind and is `ArtifactStoreError.corrupt`.
    public func fetch(sha256: String, size: Int, to destination: String) async throws(ArtifactStoreError) {
        let key = StoreConfig.objectKey(sha256: sha256)
        let partial = destination + ".partial"
        defer { unlink(partial) }
        let sink = try FileSink(path: partial)
        try await backend.download(key, from: 0, into: sink)
        let got = try sink.finish()
        try check(key, got, size: size, sha256: sha256)
        guard rename(partial, destination) == 0 else { throw FileSink.error(destination, "cannot create") }
    }

    /// Proves the object of `sha256` is present with `size` bytes; with `deep`, downloads and
    /// re-hashes it (into a scratch file that is removed).
    public func verify(sha256: String, size: Int, deep: Bool, scratch: String) async throws(ArtifactStoreError) {
        let key = StoreConfig.objectKey(sha256: sha256)
        guard let present = try await backend.size(of: key) else { throw .missing(store: backend.name, key: key) }
        guard present == size else {
            throw .corrupt(store: backend.name, key: key, message: "it has \(present) bytes, the record says \(size)")
        }
        guard deep else { return }
        let path = scratch + "/verify-\(UUID().uuidString.prefix(8))"
        defer { unlink(path) }
        let sink = try FileSink(path: path)
        try await backend.download(key, from: 0, into: sink)
        try check(key, try sink.finish(), size: size, sha256: sha256)
    }

    /// Writes every file of a version under `models/MODEL/vN/`: stored files are copied inside the
    /// store from their content object, the others uploaded from `localPath`. Files already there
    /// with the right size stay (a view is as immutable as its version).
    public func putVersionView(model: String, version: String, files: [ViewFile]) async throws(ArtifactStoreError) {
        let base = StoreConfig.versionKey(model: model, version: version)
        for file in files.sorted(by: { $0.path < $1.path }) {
            let key = base + file.path
            if let present = try await backend.size(of: key) {
                guard present == file.size else {
                    throw .corrupt(store: backend.name, key: key, message: "it has \(present) bytes, the record says \(file.size)")
                }
                continue
            }
            if let local = file.localPath {
                try await backend.upload(local, size: file.size, to: key)
            } else {
                try await backend.copy(StoreConfig.objectKey(sha256: file.sha256), size: file.size, to: key)
            }
        }
    }

    /// Every content object in the store, by sha256.
    public func contentObjects() async throws(ArtifactStoreError) -> [String: Int] {
        var out = [String: Int]()
        for object in try await backend.list(prefix: "sha256/") {
            let name = String(object.key.split(separator: "/").last ?? "")
            guard name.count == 64, object.key == StoreConfig.objectKey(sha256: name) else { continue }
            out[name] = object.size
        }
        return out
    }

    private func check(_ key: String, _ got: (size: Int, sha256: String), size: Int, sha256: String) throws(ArtifactStoreError) {
        guard got.size == size else {
            throw .corrupt(store: backend.name, key: key, message: "it has \(got.size) bytes, the record says \(size)")
        }
        guard got.sha256 == sha256 else {
            throw .corrupt(store: backend.name, key: key, message: "its bytes hash to \(got.sha256.prefix(12))…, not to its name")
        }
    }
}
