import AsyncHTTPClient
import Foundation
import NIOCore

/// The process's HTTP clients, one per timeout, alive for the process's life (an AsyncHTTPClient
/// must be shut down before it is released; these never are, so no caller has to).
enum HTTPClients {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var clients: [Int: HTTPClient] = [:]

    /// A client whose connections fail after `timeout` seconds without a byte read or a connection made.
    static func client(timeout: Int) -> HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let client = clients[timeout] { return client }
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(Int64(Swift.min(timeout, 10))), read: .seconds(Int64(timeout))))
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        clients[timeout] = client
        return client
    }
}

/// A byte range of a local file as a stream of buffers of at most 1 MiB, read as the request
/// body is sent (never the whole file in memory).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int
    let length: Int

    final class Descriptor {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var file: Descriptor?
        var sent = 0

        mutating func next() async throws -> ByteBuffer? {
            guard sent < chunks.length else { return nil }
            if file == nil {
                let fd = open(chunks.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw FileSink.error(chunks.path, "cannot open") }
                file = Descriptor(fd)
            }
            let want = Swift.min(1 << 20, chunks.length - sent)
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let fd = file!.fd
            let at = off_t(chunks.offset + sent)
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                var got = 0
                while got < want {
                    let r = pread(fd, raw.baseAddress! + got, want - got, at + off_t(got))
                    if r < 0 && errno == EINTR { continue }
                    if r <= 0 { break }
                    got += r
                }
                return got
            }
            guard n == want else { throw ArtifactStoreError.io(path: chunks.path, message: "ended early or could not be read (changed while it was sent?)") }
            sent += n
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self) }
}
