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
private final class ResumeOnce<T: Sendable>: Sendable {
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
