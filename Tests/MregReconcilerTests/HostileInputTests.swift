import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import MregCore
import MregTestSupport
import Testing

@testable import MregReconciler

/// Numbers and paths from the command line or a client never trap and never break the JSON.
@Suite struct HostileInputTests {
    @Test func aHugeIntervalIsClampedNotATrap() {
        // `UInt64(delay * 1e9)` trapped for any delay beyond 1.8e10 s.
        #expect(Reconciler.nanoseconds(1e300) == UInt64(Reconciler.maxDelay * 1e9))
        #expect(Reconciler.nanoseconds(.infinity) == UInt64(Reconciler.maxDelay * 1e9))
        #expect(Reconciler.nanoseconds(.nan) == 10_000_000)
        #expect(Reconciler.nanoseconds(-5) == 10_000_000)
        #expect(Reconciler.nanoseconds(1.5) == 1_500_000_000)
    }

    @Test func theStatusServer404EscapesThePath() throws {
        for path in ["/a\"b", "/back\\slash", "/tab\there", "/nl\nx", "/\u{1B}[2J", "/plain"] {
            let body = StatusResponder.notFoundBody(path: path)
            let json = try JSONValue.parse(Data(body.utf8))
            #expect(json["error"]?.stringValue == "no endpoint '\(path)' (try /status, /metrics, /healthz)")
            #expect(body.hasSuffix("}\n") && body.dropLast().allSatisfy { $0 != "\n" })
        }
    }

    @Test func aMirrorFolderThatIsNotOneIsNeverDeleted() throws {
        let dir = TempDir("mirror")
        defer { dir.remove() }
        // An ordinary clone (or any folder of files) given as --mirror: refused, left as it was.
        git(["init", "-q", dir.sub("clone")], in: dir.path)
        dir.write("clone/precious.txt", "do not delete\n")
        #expect(throws: StoreError.self) { try Reconciler.openMirror(dir.sub("clone"), own: false, branch: "main") }
        #expect(throws: StoreError.self) { try Reconciler.openMirror(dir.sub("clone/.git"), own: false, branch: "main") }
        #expect(FileManager.default.fileExists(atPath: dir.sub("clone/precious.txt")))
        dir.write("files/a.txt", "x")
        #expect(throws: StoreError.self) { try Reconciler.openMirror(dir.sub("files"), own: false, branch: "main") }
        #expect(FileManager.default.fileExists(atPath: dir.sub("files/a.txt")))
        // An empty folder, a missing one, and mreg's own broken default mirror are made anew.
        try FileManager.default.createDirectory(atPath: dir.sub("empty"), withIntermediateDirectories: true)
        #expect(try Reconciler.openMirror(dir.sub("empty"), own: false, branch: "main").isBare)
        #expect(try Reconciler.openMirror(dir.sub("new"), own: false, branch: "main").isBare)
        dir.write("own/half-made", "x")
        #expect(try Reconciler.openMirror(dir.sub("own"), own: true, branch: "main").isBare)
        // A bare repository is opened as it is.
        git(["init", "-q", "--bare", dir.sub("bare.git")], in: dir.path)
        #expect(try Reconciler.openMirror(dir.sub("bare.git"), own: false, branch: "main").isBare)
    }

    @Test func networkErrorsReadAsWordsNotCodes() async {
        #expect(networkErrorText(URLError(.timedOut), timeout: 10) == "timed out after 10 s")
        #expect(networkErrorText(URLError(.cannotConnectToHost), timeout: 10) == "connection refused")
        // A real refused connection, through the client the reconciler uses.
        let client = ServerClient(baseURL: "http://127.0.0.1:\(freePort())", token: nil, timeout: 5)
        do {
            _ = try await client.call("GET", "/v2/health/ready")
            Issue.record("a closed port answered")
        } catch {
            #expect("\(error)".contains("connection refused"), "\(error)")
            #expect(!"\(error)".contains("NSURLErrorDomain"))
        }
    }
}
