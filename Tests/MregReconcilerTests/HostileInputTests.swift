import Foundation
import MregCore
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
}
