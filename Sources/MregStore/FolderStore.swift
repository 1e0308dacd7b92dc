import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A store in a folder (local or mounted: NFS, SMB): the key is the path below `root`. Objects are
/// written under a temporary name and linked into place, so a reader never sees half an object and
/// an existing object is never replaced; they are made read-only.
public struct FolderStore: ArtifactStore {
    public let root: String
    public var name: String { "file://" + root }

    public init(root: String) {
        self.root = root
    }

    func path(_ key: String) -> String { root + "/" + key }

    public func size(of key: String) async throws(ArtifactStoreError) -> Int? {
        try checkRoot()
        var st = stat()
        if stat(path(key), &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FileSink.error(path(key), "cannot stat")
        }
        return Int(st.st_size)
    }

    public func upload(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError) {
        try checkRoot()
        let target = path(key)
        try makeParent(of: target)
        let temp = target + ".tmp-\(UUID().uuidString.prefix(8))"
        defer { unlink(temp) }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileSink.error(source, "cannot open") }
        defer { close(input) }
        let sink = try FileSink(path: temp)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileSink.error(source, "cannot read") }
            if n == 0 { break }
            try sink.write(buffer, count: n)
        }
        let written = try sink.finish()
        guard written.size == size else { throw .io(path: source, message: "changed while it was copied (\(written.size) bytes, expected \(size))") }
        try place(temp, at: target)
    }

    public func download(_ key: String, from offset: Int, into sink: FileSink) async throws(ArtifactStoreError) {
        let source = path(key)
        let input = open(source, O_RDONLY | O_CLOEXEC)
        if input < 0 {
            if errno == ENOENT || errno == ENOTDIR { try checkRoot(); throw .missing(store: name, key: key) }
            throw FileSink.error(source, "cannot open")
        }
        defer { close(input) }
        guard lseek(input, off_t(offset), SEEK_SET) == off_t(offset) else { throw FileSink.error(source, "cannot seek") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileSink.error(source, "cannot read") }
            if n == 0 { break }
            try sink.write(buffer, count: n)
        }
    }

    public func copy(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError) {
        try checkRoot()
        let target = path(key)
        try makeParent(of: target)
        if link(path(source), target) == 0 || errno == EEXIST { return }
        if errno == ENOENT { throw .missing(store: name, key: source) }
        // A file system without hard links (or across mounts): copy.
        try await upload(path(source), size: size, to: key)
    }

    public func delete(_ key: String) async throws(ArtifactStoreError) {
        guard unlink(path(key)) == 0 || errno == ENOENT else { throw FileSink.error(path(key), "cannot delete") }
    }

    public func list(prefix: String) async throws(ArtifactStoreError) -> [StoredObject] {
        try checkRoot()
        var out = [StoredObject]()
        let base = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw .io(path: root, message: "cannot list") }
        while let relative = walker.nextObject() as? String {
            guard relative.hasPrefix(prefix), !relative.contains(".tmp-") else { continue }
            var st = stat()
            guard lstat(base + "/" + relative, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            out.append(StoredObject(key: relative, size: Int(st.st_size)))
        }
        return out.sorted { $0.key < $1.key }
    }

    /// Links the finished temporary file into place; an object already there wins.
    private func place(_ temp: String, at target: String) throws(ArtifactStoreError) {
        chmod(temp, 0o444)
        guard link(temp, target) == 0 || errno == EEXIST else {
            // Hard links are not everywhere (some network file systems): rename, still atomic.
            if errno == EPERM || errno == ENOTSUP || errno == EXDEV {
                var st = stat()
                if stat(target, &st) == 0 { return }
                guard rename(temp, target) == 0 else { throw FileSink.error(target, "cannot create") }
                return
            }
            throw FileSink.error(target, "cannot create")
        }
    }

    private func makeParent(of target: String) throws(ArtifactStoreError) {
        let parent = String(target[..<(target.lastIndex(of: "/") ?? target.endIndex)])
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw .io(path: parent, message: "cannot create folder")
        }
    }

    private func checkRoot() throws(ArtifactStoreError) {
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .unusable(store: name, message: "folder '\(root)' does not exist")
        }
    }
}
