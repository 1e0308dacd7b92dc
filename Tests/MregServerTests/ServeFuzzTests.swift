import Foundation
import MregCore
import MregTestSupport
import Testing

/// A bounded HTTP fuzz pass against a live server on 127.0.0.1: random bytes, broken request lines
/// and headers, huge headers, lying Content-Lengths, mutated JSON bodies. The server must stay live,
/// keep answering correctly, and keep its memory bounded.
///
/// MREG_FUZZ_CASES sets the number of cases (default 500); scripts/bench/fuzz.sh runs a longer pass.
@Suite struct ServeFuzzTests {
    /// SplitMix64: reproducible cases from a seed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
    }

    static func fuzzCase(_ rng: inout Rng) -> [UInt8] {
        let body = Row.body()
        func request(_ head: String, _ body: [UInt8]) -> [UInt8] { Array(head.utf8) + body }
        switch rng.below(12) {
        case 0:
            return rng.bytes(1 + rng.below(4096))
        case 1:
            let lines = ["GET / HTTP/9.9", "GARBAGE", "POST  HTTP/1.1", "GET /v2/health/live HTTP/1.1 extra", "\u{0}\u{1}\u{2}", "GET /%%%% HTTP/1.1"]
            return Array((lines[rng.below(lines.count)] + "\r\n\r\n").utf8)
        case 2:
            // A header line without a colon, or with bytes a header may not hold.
            let bad = ["NoColonHere", "X-Bad\u{1}: x", "X: \u{7f}\u{0}", ": empty-name", "X-Fold: a\r\n folded"]
            return Array("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\(bad[rng.below(bad.count)])\r\n\r\n".utf8)
        case 3:
            // One huge header (well past the 80 KiB limit).
            return Array("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Huge: \(String(repeating: "a", count: 100_000 + rng.below(100_000)))\r\n\r\n".utf8)
        case 4:
            // Thousands of headers.
            let headers = (0..<(1200 + rng.below(800))).map { "X-H\($0): v" }.joined(separator: "\r\n")
            return Array("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\(headers)\r\n\r\n".utf8)
        case 5:
            // A Content-Length that lies (shorter or negative or two of them).
            let lengths = ["-1", "abc", "\(body.utf8.count / 2)", "99999999999999999999", "10\r\nContent-Length: 20"]
            return request("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(lengths[rng.below(lengths.count)])\r\n\r\n", Array(body.utf8))
        case 6:
            // A valid request with random bytes of its JSON body flipped.
            var b = Array(body.utf8)
            for _ in 0..<(1 + rng.below(8)) { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            return request("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(b.count)\r\n\r\n", b)
        case 7:
            // The JSON body cut short at a random point.
            let b = Array(body.utf8.prefix(rng.below(body.utf8.count)))
            return request("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(b.count)\r\n\r\n", b)
        case 8:
            // Broken chunked encoding.
            let chunks = ["zz\r\nabc\r\n0\r\n\r\n", "5\r\nab\r\n", "ffffffffffffffff\r\n", "3\r\nabc\r\n-1\r\n"]
            return Array("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(chunks[rng.below(chunks.count)])".utf8)
        case 9:
            // Pipelined requests, some good, one broken in the middle.
            let good = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
            return Array((good + good + "BROKEN\r\n\r\n" + good).utf8)
        case 10:
            // Random bytes after a valid request line and headers.
            return request("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 512\r\n\r\n", rng.bytes(512))
        default:
            // A huge URL.
            return Array("GET /v2/models/\(String(repeating: "p", count: 50_000 + rng.below(50_000))) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        }
    }

    @Test func serverSurvivesFuzzing() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let cases = Int(ProcessInfo.processInfo.environment["MREG_FUZZ_CASES"] ?? "") ?? 500
        let deadline = Date().addingTimeInterval(Double(max(20, cases / 20)))
        var rng = Rng(state: 20261122)
        let expected = try await server.post("/v2/models/penguins/infer", Row.body()).text

        var rssAfterWarmup = 0
        var done = 0
        while done < cases && Date() < deadline {
            let payload = Self.fuzzCase(&rng)
            // Each case on its own connection, closed after a short wait for whatever the server says.
            if let c = try? RawConnection(port: server.port, timeoutMilliseconds: 100) {
                c.send(payload)
                if rng.below(2) == 0 { _ = c.receiveSome() }
            }
            done += 1
            if done % 50 == 0 {
                let live = try await server.get("/v2/health/live")
                #expect(live.status == 200, "after \(done) cases")
                if done == 100 { rssAfterWarmup = server.residentKiB }
            }
        }
        #expect(done >= min(cases, 200), "only \(done) cases ran before the deadline")
        let live = try await server.get("/v2/health/live")
        #expect(live.status == 200)
        #expect(try await server.post("/v2/models/penguins/infer", Row.body()).text == expected)
        let rss = server.residentKiB
        #expect(rss > 0 && rss < 300_000, "resident memory \(rss) KiB")
        if rssAfterWarmup > 0 { #expect(rss - rssAfterWarmup < 64_000, "grew from \(rssAfterWarmup) to \(rss) KiB") }
        print("fuzz: \(done) cases, resident memory \(rssAfterWarmup) KiB after 100 cases, \(rss) KiB at the end")
    }
}
