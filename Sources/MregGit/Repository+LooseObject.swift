import CZlib
#if canImport(Glibc)
    import Glibc
#endif
import Foundation

extension Repository {
    /// Refuses a loose object whose zlib stream is damaged or cut short, before libgit2 reads it:
    /// libgit2 1.5 loops forever inflating a truncated loose object (`mreg verify` spun at 100 %
    /// CPU on one). Packed objects are not loose files and are left to libgit2. One `stat` when
    /// the object is packed; one extra inflate, with bounded memory, when it is loose.
    func checkLooseObject(_ id: ObjectID) throws(GitError) {
        let hex = id.hex
        let path = gitDir + "objects/" + hex.prefix(2) + "/" + hex.dropFirst(2)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }  // packed (or absent: libgit2 says so)
        defer { close(fd) }
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return }
        defer { inflateEnd(&stream) }
        var input = [UInt8](repeating: 0, count: 1 << 16)
        var output = [UInt8](repeating: 0, count: 1 << 16)
        var status = Z_OK
        while status != Z_STREAM_END {
                let n = input.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw GitError.corruptObject(id: hex, reason: n == 0 ? "the file ends before its zlib stream does" : "cannot be read") }
            status = input.withUnsafeMutableBufferPointer { inBuf -> Int32 in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(n)
                var result = Z_OK
                // Drain everything this chunk yields; the output itself is not needed.
                repeat {
                    result = output.withUnsafeMutableBufferPointer { outBuf -> Int32 in
                        stream.next_out = outBuf.baseAddress
                        stream.avail_out = UInt32(outBuf.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                } while result == Z_OK && stream.avail_out == 0
                return result
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw GitError.corruptObject(id: hex, reason: "its zlib stream is damaged")
            }
        }
    }
}
