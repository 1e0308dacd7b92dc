import Foundation
import MregCore
import MregTestSupport
import Testing

@testable import MregStore

@Suite(.enabled(if: MotoServer.venv.available, "needs python3 and pip to make the venv of Tests/requirements-s3.txt (moto)"))
struct S3StoreTests {
    private func store(_ moto: MotoServer, bucket: String, partSize: Int = StoreConfig.minimumPartSize,
                       env: [String: String] = motoCredentials) throws -> ContentStore {
        let config = StoreConfig(location: .s3(bucket: bucket, prefix: "team/reg"), endpoint: moto.endpoint, region: "us-east-1",
                                 partSize: partSize, timeout: 20)
        return try ContentStore(config: config, environment: env)
    }

    @Test func uploadsOnceInPartsAndDownloadsVerified() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try await moto.createBucket("models")
        let dir = TempDir("mreg-s3")
        defer { dir.remove() }
        let s = try store(moto, bucket: "models")
        // 11 MiB with 5 MiB parts: three parts, the last one short.
        let size = 11 << 20 + 123
        let big = makeFile(dir.sub("big.bin"), size: size)
        let small = makeFile(dir.sub("small.bin"), size: 1000)
        #expect(try await s.put(file: dir.sub("big.bin"), sha256: big, size: size))
        #expect(try await s.put(file: dir.sub("small.bin"), sha256: small, size: 1000))
        #expect(try await !s.put(file: dir.sub("big.bin"), sha256: big, size: size), "a present object is not sent again")
        try await s.fetch(sha256: big, size: size, to: dir.sub("big.out"))
        #expect(sha256Hex(of: dir.sub("big.out")) == big)
        try await s.verify(sha256: small, size: 1000, deep: true, scratch: dir.path)
        #expect(try await s.contentObjects() == [big: size, small: 1000])

        try await s.putVersionView(model: "penguins", version: "v2", files: [
            ViewFile(path: "weights/big.bin", size: size, sha256: big, localPath: nil),
            ViewFile(path: "small.bin", size: 1000, sha256: small, localPath: dir.sub("small.bin")),
        ])
        #expect(s.config.versionURI(model: "penguins", version: "v2") == "s3://models/team/reg/models/penguins/v2/")
        let view = try await s.backend.list(prefix: "models/penguins/v2/")
        #expect(view == [StoredObject(key: "models/penguins/v2/small.bin", size: 1000), StoredObject(key: "models/penguins/v2/weights/big.bin", size: size)])
    }

    @Test func deletedAndCorruptObjectsAreRefused() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try await moto.createBucket("models")
        let dir = TempDir("mreg-s3")
        defer { dir.remove() }
        let s = try store(moto, bucket: "models")
        let sha = makeFile(dir.sub("a.bin"), size: 5000)
        try await s.put(file: dir.sub("a.bin"), sha256: sha, size: 5000)
        let key = StoreConfig.objectKey(sha256: sha)

        // Replaced behind mreg's back by other bytes of the same size.
        _ = makeFile(dir.sub("other.bin"), size: 5000, seed: 3)
        try await s.backend.delete(key)
        try await s.backend.upload(dir.sub("other.bin"), size: 5000, to: key)
        do {
            try await s.fetch(sha256: sha, size: 5000, to: dir.sub("out"))
            Issue.record("accepted a corrupted object")
        } catch {
            #expect(error.description.hasPrefix("object '\(key)' in the store 's3://models/team/reg' is corrupt: its bytes hash to"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out")))

        try await s.backend.delete(key)
        await #expect(throws: ArtifactStoreError.missing(store: "s3://models/team/reg", key: key)) {
            try await s.verify(sha256: sha, size: 5000, deep: false, scratch: dir.path)
        }
        await #expect(throws: ArtifactStoreError.missing(store: "s3://models/team/reg", key: key)) {
            try await s.fetch(sha256: sha, size: 5000, to: dir.sub("out"))
        }
    }

    @Test func missingBucketAndWrongCredentials() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let dir = TempDir("mreg-s3")
        defer { dir.remove() }
        let sha = makeFile(dir.sub("a.bin"), size: 100)
        let s = try store(moto, bucket: "no-such-bucket")
        await #expect(throws: ArtifactStoreError.noBucket(store: "s3://no-such-bucket/team/reg", bucket: "no-such-bucket")) {
            try await s.put(file: dir.sub("a.bin"), sha256: sha, size: 100)
        }

        let strict = try MotoServer(enforceAuth: true)
        defer { strict.stop() }
        let denied = try store(strict, bucket: "models")
        do {
            _ = try await denied.put(file: dir.sub("a.bin"), sha256: sha, size: 100)
            Issue.record("a server that knows no keys accepted one")
        } catch {
            #expect(error.description == "access to 'sha256/\(sha.prefix(2))/\(sha)' in the store 's3://models/team/reg' was denied with the credentials from environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            #expect(!error.description.contains("very-secret-test-key") && !error.description.contains("AKIDTESTMOTO"))
        }
    }
}

/// A server that answers a GET with the headers and the first bytes of a 1 MiB body, then sends
/// nothing more (a stalled download); it needs no Python.
@Suite struct StalledServerTests {
    @Test func aStalledDownloadEndsAtTheDeadline() async throws {
        let server = try StallingServer()
        defer { server.stop() }
        let dir = TempDir("mreg-stall")
        defer { dir.remove() }
        let config = StoreConfig(location: .s3(bucket: "models", prefix: ""), endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1", timeout: 1)
        let s = try ContentStore(config: config, environment: motoCredentials)
        let sha = String(repeating: "ab", count: 32)
        await #expect(throws: ArtifactStoreError.timeout(store: "s3://models", key: StoreConfig.objectKey(sha256: sha), seconds: 1)) {
            try await s.fetch(sha256: sha, size: 1 << 20, to: dir.sub("out"))
        }
        #expect(server.sentHeaders, "the deadline hit mid-body, not before the answer")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out")))
    }
}

final class StallingServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var headersSent = false
    private var connections = [Int32]()
    var sentHeaders: Bool { lock.withLock { headersSent } }

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound, listen(listener, 8) == 0 else { throw ArtifactStoreError.io(path: "127.0.0.1", message: "cannot listen") }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    private func serve() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            lock.withLock { connections.append(fd) }
            var request = [UInt8](repeating: 0, count: 8192)
            _ = read(fd, &request, request.count)
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nContent-Type: application/octet-stream\r\n\r\n"
            let bytes = Array(head.utf8) + [UInt8](repeating: 42, count: 1000)
            _ = write(fd, bytes, bytes.count)
            lock.withLock { headersSent = true }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        lock.withLock { for fd in connections { close(fd) } }
    }
}
