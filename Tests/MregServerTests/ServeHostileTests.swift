import Foundation
import MregCore
import MregTestSupport
import Testing
@testable import MregServer

/// Hostile clients (issue 12): who counts as local, tokens with a tail, slow connections, requests
/// cut by a shutdown, HTTP-level errors, `Expect: 100-continue` before a 413, capture drops.
@Suite struct ServeHostileTests {
    // MARK: Who gets in

    @Test func loopbackIsDecidedOnResolvedAddresses() {
        func loopback(_ host: String) -> Bool { ServerConfiguration(store: "/", host: host).isLoopback }
        #expect(loopback("127.0.0.1"))
        #expect(loopback("127.3.4.5"))
        #expect(loopback("::1"))
        #expect(loopback("localhost"))
        #expect(!loopback("127.evil.example"))
        #expect(!loopback("127.0.0.1.evil.example"))
        #expect(!loopback("0.0.0.0"))
        #expect(!loopback("10.99.0.1"))
        #expect(!loopback("::"))
        #expect(!loopback(""))
    }

    @Test func aNameThatLooksLoopbackNeedsAToken() throws {
        let store = TestStore()
        defer { store.remove() }
        let result = run(mregBinary, ["serve", "--store", store.path, "--port", "0", "--host", "127.evil.example"])
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("refusing to serve the repository endpoints on '127.evil.example' without --admin-token-file"),
                "\(result.stderr)")
        #expect(!result.stdout.contains("listening"))
    }

    @Test func tokenComparisonCoversTheWholeValue() {
        let token = Array("test-token-0123456789abcdef".utf8)
        #expect(constantTimeEqual(token, token))
        #expect(!constantTimeEqual(token + Array(repeating: UInt8(ascii: "a"), count: 256), token))
        #expect(!constantTimeEqual(token, token + Array(repeating: UInt8(ascii: "a"), count: 512)))
        #expect(!constantTimeEqual(token + [0], token))
        #expect(!constantTimeEqual(Array(token.dropLast()), token))
        #expect(!constantTimeEqual([UInt8](), token))
    }

    @Test func aTokenWithATailIsRefused() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        for tail in [String(repeating: "a", count: 256), String(repeating: "x", count: 512), "!", "\u{0}"] {
            let reply = try await server.request("POST", "/v2/repository/index", headers: ["Authorization": "Bearer \(server.token)\(tail)"])
            #expect(reply.status == 401, "tail of \(tail.utf8.count) bytes: \(reply.text)")
        }
        #expect(try await server.admin("/v2/repository/index").status == 200)
    }

    // MARK: Slow clients

    /// Sends `bytes` one at a time, `interval` apart, on its own thread until told to stop or the
    /// peer closes; counts the bytes it got through.
    final class Trickle: @unchecked Sendable {
        let connection: RawConnection
        private let lock = NSLock()
        private var stopped = false

        init(port: Int, start: String, bytes: String, interval: useconds_t = 100_000) throws {
            connection = try RawConnection(port: port, timeoutMilliseconds: 30_000)
            connection.send(start)
            let thread = Thread { [self] in
                for b in bytes.utf8 {
                    if self.isStopped { return }
                    if !self.connection.send([b]) { return }
                    usleep(interval)
                }
            }
            thread.start()
        }

        var isStopped: Bool {
            lock.lock()
            defer { lock.unlock() }
            return stopped
        }

        func stop() {
            lock.lock()
            stopped = true
            lock.unlock()
        }
    }

    @Test func slowHeadersAreCutOffAndOthersServed() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path, arguments: ["--max-connections", "4", "--header-timeout", "1"])
        defer { server.stop() }
        // More slow clients than connection slots, each sending a header a byte every 100 ms.
        let slow = try (0..<6).map { _ in
            try Trickle(port: server.port, start: "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                        bytes: String(repeating: "s", count: 600))
        }
        defer { slow.forEach { $0.stop() } }
        let reply = try await server.get("/v2/health/live")
        #expect(reply.status == 200)
        // Each slow client was cut by the header deadline (its 408 says so), not by the idle
        // timeout, which closes without an answer.
        for s in slow {
            let answer = s.connection.readResponse()
            #expect(answer?.status == 408, "\(String(describing: answer))")
            #expect((try? JSONValue.parse(Data((answer?.body ?? "").utf8)))?["error"]?.stringValue?.contains("request head did not arrive within 1 s") == true,
                    "\(answer?.body ?? "")")
        }
        #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 200)
    }

    @Test func aSlowBodyIsCutOff() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path, arguments: ["--max-connections", "2", "--body-timeout", "1"])
        defer { server.stop() }
        let body = Row.body()
        // A body that takes 5 minutes at a byte per 100 ms: without a body deadline the slow
        // clients would hold both slots that long.
        let slowBody = body + String(repeating: " ", count: 3000)
        let slow = try (0..<3).map { _ in
            try Trickle(port: server.port,
                        start: "POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(slowBody.utf8.count)\r\n\r\n",
                        bytes: slowBody)
        }
        defer { slow.forEach { $0.stop() } }
        let start = Date()
        #expect(try await server.post("/v2/models/penguins/infer", body).status == 200)
        #expect(Date().timeIntervalSince(start) < 150, "a legitimate client waited \(Date().timeIntervalSince(start)) s")
        for s in slow {
            // Cut off: the connection ends without a complete answer to the slow request.
            let rest = s.connection.receive()
            #expect(!String(decoding: rest, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
    }

    // MARK: Shutdown

    /// A request whose first bytes are in before SIGTERM gets its answer, even when the rest of its
    /// head comes after the server stopped accepting.
    @Test func shutdownAnswersRequestsAlreadyStarted() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let port = server.port
        let request = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
        var connections = [RawConnection]()
        for _ in 0..<4 {
            let c = try RawConnection(port: port, timeoutMilliseconds: 20_000)
            // One full exchange first, so the connection is accepted and kept alive.
            c.send(request)
            #expect(c.readResponse()?.status == 200)
            connections.append(c)
        }
        // Then each starts a second request: half a head; one sends a whole head and half a body.
        let body = Row.body()
        for c in connections.dropLast() { c.send("GET /v2/health/live HTTP/1.1\r\nHo") }
        let last = connections.last!
        last.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + String(body.prefix(10)))
        kill(server.process.processIdentifier, SIGTERM)
        // The listening socket closes when the shutdown starts; the rest is sent after that.
        let deadline = Date().addingTimeInterval(20)
        while accepts(port) && Date() < deadline { usleep(2000) }
        for c in connections.dropLast() { c.send("st: x\r\n\r\n") }
        last.send(String(body.dropFirst(10)))
        for c in connections.dropLast() {
            #expect(c.readResponse()?.status == 200)
        }
        let answer = last.readResponse()
        #expect(answer?.status == 200, "\(String(describing: answer))")
        #expect(answer?.body.contains("model_name") == true)
        #expect(server.stop() == 0)
    }

    // MARK: HTTP-level errors

    @Test(arguments: [
        ("oversized headers", "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Huge: \(String(repeating: "a", count: 100_000))\r\n\r\n"),
        ("Content-Length with Transfer-Encoding",
         "POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("bare LF", "GET /v2/health/live HTTP/1.1\nHost: x\n\n"),
        ("unknown method", "FROB /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("raw UTF-8 path", "GET /v2/models/ping\u{fc}ino HTTP/1.1\r\nHost: x\r\n\r\n"),
    ])
    func httpErrorsHaveAJSONBody(_ name: String, _ raw: String) throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let c = try RawConnection(port: server.port)
        c.send(raw)
        let answer = try #require(c.readResponse(), "\(name): no answer")
        #expect(answer.status == 400, "\(name)")
        let message = try #require(try JSONValue.parse(Data(answer.body.utf8))["error"]?.stringValue, "\(name): body '\(answer.body)'")
        #expect(message.hasPrefix("malformed HTTP request: "), "\(name): \(message)")
        #expect(!message.contains("\n"))
        let live = try RawConnection(port: server.port)
        live.send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(live.readResponse()?.status == 200)
    }

    @Test func noContinueBeforeA413() throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path, arguments: ["--max-body", "65536"])
        defer { server.stop() }
        let big = try RawConnection(port: server.port)
        big.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
        #expect(big.readResponse()?.status == 413)
        // The repository endpoints' own limit counts (the smaller of --max-body and 1 MiB).
        let admin = try RawConnection(port: server.port)
        admin.send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(server.token)\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n")
        #expect(admin.readResponse()?.status == 413)
        // Within the limit the client is still asked to go on.
        let body = Row.body()
        let small = try RawConnection(port: server.port)
        small.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        #expect(String(decoding: small.receiveSome(), as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue"))
        small.send(body)
        #expect(small.readResponse()?.status == 200)
    }

    // MARK: Capture

    @Test func captureDropsWarnOncePerBurst() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let dir = store.dir.sub("capture")
        let server = try ServerProcess(store: store.path, arguments: [
            "--capture", dir, "--capture-percent", "100", "--capture-min-free-bytes", "\(UInt64(1) << 60)",
        ])
        defer { server.stop() }
        for _ in 0..<30 { #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 200) }
        let deadline = Date().addingTimeInterval(20)
        while !(try await server.get("/metrics").text.contains(#"mreg_capture_dropped_total{reason="disk_full"} 30"#)), Date() < deadline {
            usleep(10_000)
        }
        // The warning is written before the drops are counted; its bytes reach us through a pipe.
        while !server.stderr.contains("capture is dropping records"), Date() < deadline { usleep(10_000) }
        #expect(server.stop() == 0)
        let warnings = server.stderr.split(separator: "\n").filter { $0.contains("capture is dropping records") }
        #expect(warnings.count == 1, "\(server.stderr)")
        #expect(warnings.first?.hasPrefix("mreg: warning: capture is dropping records (disk_full)") == true, "\(server.stderr)")
    }
}
