/// What went wrong with the artifact store, written for a terminal: lowercase, the subject quoted.
/// Credentials never appear in one; `accessDenied` names only where they came from.
public enum ArtifactStoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The object `key` is not in the store at `store`.
    case missing(store: String, key: String)
    /// An object's bytes do not hash to its name, or its size differs from the record.
    case corrupt(store: String, key: String, message: String)
    /// The service refused the request; `source` says which credentials were sent.
    case accessDenied(store: String, key: String, source: String)
    /// The bucket does not exist.
    case noBucket(store: String, bucket: String)
    /// No byte moved for longer than the deadline, or a connection could not be made in time.
    case timeout(store: String, key: String, seconds: Int)
    /// A transport or server failure that a retry may cure (connection reset, 5xx, throttling).
    case transient(store: String, key: String, message: String)
    /// Any other answer of the service.
    case refused(store: String, key: String, status: Int, message: String)
    /// A local file or folder could not be read or written.
    case io(path: String, message: String)
    /// The store cannot be used as configured (no credentials, bad endpoint).
    case unusable(store: String, message: String)

    public var description: String {
        switch self {
        case .missing(let store, let key): return "object '\(key)' is not in the store '\(store)'"
        case .corrupt(let store, let key, let message): return "object '\(key)' in the store '\(store)' is corrupt: \(message)"
        case .accessDenied(let store, let key, let source):
            return "access to '\(key)' in the store '\(store)' was denied with the credentials from \(source)"
        case .noBucket(let store, let bucket): return "bucket '\(bucket)' of the store '\(store)' does not exist"
        case .timeout(let store, let key, let seconds):
            return "the store '\(store)' did not answer for '\(key)' within \(seconds) s"
        case .transient(let store, let key, let message): return "the store '\(store)' failed for '\(key)': \(message)"
        case .refused(let store, let key, let status, let message):
            return "the store '\(store)' refused '\(key)' with HTTP \(status)\(message.isEmpty ? "" : ": " + message)"
        case .io(let path, let message): return "'\(path)': \(message)"
        case .unusable(let store, let message): return "the store '\(store)' cannot be used: \(message)"
        }
    }

    /// Whether trying again may succeed.
    public var isTransient: Bool {
        switch self {
        case .timeout, .transient: return true
        default: return false
        }
    }
}
