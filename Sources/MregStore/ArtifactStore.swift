import MregCore

/// One object of a store listing: its key relative to the store's root and its size.
public struct StoredObject: Sendable, Equatable, Codable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// A place that holds objects by key: a folder (`FolderStore`) or an S3-compatible bucket
/// (`S3Store`). Keys are relative to the store's root (`sha256/ab/…`, `models/m/v1/model.json`);
/// the backend adds its folder or prefix. Content-addressing and checks live in `ContentStore`,
/// so a backend only moves bytes.
public protocol ArtifactStore: Sendable {
    /// The store's URL as people configured it, for messages.
    var name: String { get }
    /// The size of the object `key`, nil when there is none.
    func size(of key: String) async throws(ArtifactStoreError) -> Int?
    /// Writes the local file `path` (`size` bytes) as `key`, streamed; an existing object stays.
    func upload(_ path: String, size: Int, to key: String) async throws(ArtifactStoreError)
    /// Streams the object `key`, from byte `offset`, into `sink`.
    func download(_ key: String, from offset: Int, into sink: FileSink) async throws(ArtifactStoreError)
    /// Makes `key` hold the same bytes as `source` without moving them through this process
    /// where the backend can (S3 CopyObject, a hard link); an existing `key` stays.
    func copy(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError)
    /// Removes the object `key`; absent is not an error.
    func delete(_ key: String) async throws(ArtifactStoreError)
    /// Every object whose key starts with `prefix`, sorted by key.
    func list(prefix: String) async throws(ArtifactStoreError) -> [StoredObject]
}

/// Opens the backend a configuration names.
public func openArtifactStore(_ config: StoreConfig, environment: [String: String]) throws(ArtifactStoreError) -> any ArtifactStore {
    switch config.location {
    case .folder(let path): return FolderStore(root: path)
    case .s3: return try S3Store(config: config, environment: environment)
    }
}
