import Foundation
import MregCore
import Synchronization
import Testing

struct DeadlineTests {
    final class Flag: Sendable {
        let value = Mutex(false)
    }

    @Test func aBodyThatIgnoresCancellationDoesNotHoldTheCallerPastTheDeadline() async {
        let finished = Flag()
        let gate = DispatchSemaphore(value: 0)
        // The body waits on a semaphore nobody signals before the deadline: cancellation cannot reach it.
        let result = await withHardDeadline(seconds: 0.2, onTimeout: "timed out") {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    gate.wait()
                    c.resume()
                }
            }
            finished.value.withLock { $0 = true }
            return "finished"
        }
        #expect(result == "timed out")
        #expect(finished.value.withLock { $0 } == false)
        gate.signal()
    }

    @Test func aQuickBodyWinsAndAHugeDeadlineDoesNotTrap() async {
        #expect(await withHardDeadline(seconds: 5, onTimeout: 0) { 42 } == 42)
        #expect(await withHardDeadline(seconds: .infinity, onTimeout: 0) { 7 } == 7)
        #expect(await withHardDeadline(seconds: 1e300, onTimeout: 0) { 8 } == 8)
    }
}
