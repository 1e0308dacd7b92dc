import Foundation
import MregCore

/// The files under `<git dir>/mreg/`: derived data that is read only when it is a regular file and
/// checks out, and otherwise ignored and rebuilt.
///
/// Opening is non-blocking and does not follow a final symlink, so a FIFO, a device or a link put
/// where a cache belongs is never waited on or read through (`mreg list` used to block forever on
/// a FIFO). Writes are best effort: a read-only repository simply goes without its caches.
enum CacheFile {
    /// The bytes of the regular file at `path`, or nil when it is missing, not a regular file, or
    /// cannot be read.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(Int(st.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Replaces the file at `path` with `bytes` (a temporary file renamed over it, which also
    /// replaces a FIFO or a link that stood there).
    static func replace(_ path: String, with bytes: [UInt8]) {
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let ok = writeAll(fd, bytes)
        close(fd)
        if !ok || rename(temp, path) != 0 { unlink(temp) }
    }

    /// Appends `bytes` in one write if `path` is a regular file; false (nothing written) otherwise.
    static func append(_ path: String, _ bytes: [UInt8]) -> Bool {
        let fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return false }
        return writeAll(fd, bytes)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var written = 0
        return bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                written += n
            }
            return true
        }
    }
}
