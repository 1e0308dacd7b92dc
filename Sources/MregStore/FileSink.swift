#if canImport(Glibc)
    import Glibc
#endif

/// A local file being written by a download, hashed as the bytes arrive so a file is read once.
public final class FileSink {
    public let path: String
    private var fd: Int32
    private let hasher = StreamingSHA256()
    /// Bytes written so far (including any kept from an earlier, partial download).
    public private(set) var count = 0

    /// Creates (or truncates) `path`.
    public init(path: String) throws(ArtifactStoreError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSink.error(path, "cannot create") }
    }

    /// Continues the partial file at `path`: its bytes are hashed again and writing goes on at its end.
    public init(resuming path: String) throws(ArtifactStoreError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSink.error(path, "cannot open") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileSink.error(path, "cannot read") }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            count += n
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ArtifactStoreError) {
        guard append(bytes) else { throw FileSink.error(path, "cannot write") }
    }

    /// Appends the first `count` bytes of `buffer`.
    public func write(_ buffer: [UInt8], count: Int) throws(ArtifactStoreError) {
        let ok = buffer.withUnsafeBytes { append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        guard ok else { throw FileSink.error(path, "cannot write") }
    }

    /// False when a write failed (`errno` says why).
    private func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        hasher.update(bytes)
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        count += bytes.count
        return true
    }

    /// Flushes to disk and closes; returns the size and the sha256 of everything written.
    public func finish() throws(ArtifactStoreError) -> (size: Int, sha256: String) {
        guard fsync(fd) == 0 else { throw FileSink.error(path, "cannot flush") }
        close(fd)
        fd = -1
        return (count, hasher.finalHex())
    }

    static func error(_ path: String, _ what: String) -> ArtifactStoreError {
        .io(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
