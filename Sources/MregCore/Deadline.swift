import Foundation
import Synchronization

/// Runs `body` and returns its result, or `onTimeout` once `seconds` have passed, whichever comes
/// first. Unlike a task group, it does not wait for a body that ignores cancellation: the body is
/// cancelled and left to finish on its own, and its late result is dropped.
public func withHardDeadline<T: Sendable>(
    seconds: Double, onTimeout: T, _ body: @escaping @Sendable () async -> T
) async -> T {
    let slot = ResumeOnce<T>()
    return await withCheckedContinuation { continuation in
        slot.set(continuation)
        let work = Task { slot.resume(await body()) }
        Task {
            // Clamped: a huge or non-finite deadline must not trap in the conversion.
            let clamped = seconds.isFinite ? min(max(seconds, 0), 86_400 * 365) : 86_400 * 365
            try? await Task.sleep(nanoseconds: UInt64(clamped * 1_000_000_000))
            work.cancel()
            slot.resume(onTimeout)
        }
    }
}

/// A continuation resumed by whichever caller comes first; later calls do nothing.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    func set(_ c: CheckedContinuation<T, Never>) { continuation.withLock { $0 = c } }

    func resume(_ value: T) {
        let c = continuation.withLock { current -> CheckedContinuation<T, Never>? in
            defer { current = nil }
            return current
        }
        c?.resume(returning: value)
    }
}

/// A blocking call that gave no answer within its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public var what: String
    public var seconds: Double
    public init(what: String, seconds: Double) {
        self.what = what
        self.seconds = seconds
    }
    public var description: String { "\(what) gave no answer within \(JSONValue.format(seconds)) s" }
}

/// Runs a blocking call (libgit2 on the network, which has no timeouts of its own) on a thread of
/// its own, never on the cooperative pool, and waits at most `seconds` for it. After that it throws
/// `DeadlineExceeded`; the thread is left to finish (or stay stuck) on its own, so callers keep at
/// most one such call in flight per resource (`BlockingLane`).
public func runBlocking<T: Sendable>(
    _ what: String, seconds: Double, _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let slot = ResumeOnce<Result<T, Error>>()
    let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, Error>, Never>) in
        slot.set(continuation)
        let thread = Thread {
            slot.resume(Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
        Task {
            let clamped = seconds.isFinite ? min(max(seconds, 0), 86_400 * 365) : 86_400 * 365
            try? await Task.sleep(nanoseconds: UInt64(clamped * 1_000_000_000))
            slot.resume(.failure(DeadlineExceeded(what: what, seconds: seconds)))
        }
    }
    return try result.get()
}

/// One blocking call at a time per resource (a remote): a call that outlived its deadline keeps
/// the lane until it returns, and a new one is refused meanwhile instead of piling up threads.
public final class BlockingLane: Sendable {
    private let busy = Mutex<String?>(nil)

    public init() {}

    /// Runs `body` with `runBlocking`, unless an earlier call on this lane has not returned yet.
    public func run<T: Sendable>(_ what: String, seconds: Double, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let previous = busy.withLock { current -> String? in
            if let current { return current }
            current = what
            return nil
        }
        if let previous { throw DeadlineExceeded(what: previous + " (still waiting from an earlier pass)", seconds: seconds) }
        return try await runBlocking(what, seconds: seconds) { [self] in
            defer { self.busy.withLock { $0 = nil } }
            return try body()
        }
    }
}
