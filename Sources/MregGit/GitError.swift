import CGit2

/// What went wrong in the Git layer, written for a terminal.
public enum GitError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A libgit2 call failed: the function, libgit2's code and its own message.
    case libgit2(function: String, code: Int32, message: String)
    /// A compare-and-swap on a ref lost: someone else moved it first.
    case refMoved(ref: String, expected: ObjectID?, actual: ObjectID?)
    /// A path, ref or object that was asked for does not exist.
    case notFound(String)
    /// No author or committer identity is configured anywhere.
    case noIdentity(String)
    /// A path handed to the tree writer is not a plain relative path.
    case invalidPath(String)
    /// The working tree holds changes to paths a commit would overwrite.
    case dirtyWorkingTree([String])
    /// A libgit2 call on a remote failed: the function, the remote's URL (credentials removed) and libgit2's message.
    case remoteFailed(function: String, url: String, code: Int32, message: String)
    /// The remote refused the credentials, or asked for some and none were set.
    case authenticationFailed(url: String, reason: String)
    /// The SSH server's host key is in no known_hosts file mreg trusts.
    case untrustedHostKey(host: String, fingerprint: String)
    /// The remote (or the fast-forward check before sending) refused to update a ref.
    case pushRejected(url: String, ref: String, reason: String)
    /// A fetch without `+` would have moved a local ref in a way that is not a fast-forward.
    case fetchRejected(url: String, ref: String, reason: String)
    /// A URL carries a password or token, which must not be stored in the configuration.
    case credentialsInURL(String)
    /// A loose object whose file is damaged or cut short.
    case corruptObject(id: String, reason: String)

    public var description: String {
        switch self {
        case .libgit2(let function, _, let message):
            return "\(function): \(message)"
        case .refMoved(let ref, let expected, let actual):
            let was = expected.map { String($0.hex.prefix(12)) } ?? "nothing"
            let now = actual.map { String($0.hex.prefix(12)) } ?? "nothing"
            return "'\(ref)' moved (expected \(was), found \(now)), run again"
        case .notFound(let what):
            return "\(what) not found"
        case .noIdentity(let detail):
            return "no author identity: \(detail)"
        case .invalidPath(let path):
            return "invalid path '\(path)'"
        case .dirtyWorkingTree(let paths):
            return "the working tree has uncommitted changes to '\(paths.joined(separator: "', '"))'; commit or discard them first"
        case .remoteFailed(let function, let url, _, let message):
            return "\(function) '\(url)': \(message)"
        case .authenticationFailed(let url, let reason):
            return "authentication failed for '\(url)': \(reason)"
        case .untrustedHostKey(let host, let fingerprint):
            return "host key \(fingerprint) of '\(host)' is not trusted: add it to ~/.ssh/known_hosts or a file named by MREG_SSH_KNOWN_HOSTS"
        case .pushRejected(let url, let ref, let reason):
            return "push to '\(url)' rejected for '\(ref)': \(reason)"
        case .fetchRejected(let url, let ref, let reason):
            return "fetch from '\(url)' rejected for '\(ref)': \(reason)"
        case .corruptObject(let id, let reason):
            return "object \(id) is corrupt: \(reason) (restore it from another clone, e.g. git fetch)"
        case .credentialsInURL(let url):
            return "URL '\(url)' carries credentials; use MREG_GIT_TOKEN or an ssh key instead"
        }
    }

    /// The libgit2 error code, when this is a libgit2 failure.
    public var code: Int32? {
        switch self {
        case .libgit2(_, let code, _), .remoteFailed(_, _, let code, _): return code
        default: return nil
        }
    }
}

/// Turns a negative libgit2 return code into a `GitError` naming `function` and carrying libgit2's message.
@discardableResult
@inline(__always)
func check(_ result: Int32, _ function: StaticString) throws(GitError) -> Int32 {
    if result < 0 { throw lastError(result, function) }
    return result
}

/// The error libgit2 recorded for this thread, read right after the failing call.
func lastError(_ code: Int32, _ function: StaticString) -> GitError {
    var message = "error \(code)"
    if let err = git_error_last(), let text = err.pointee.message {
        message = String(cString: text).trimmingCharacters(in: [" ", "\n", "."])
    }
    return .libgit2(function: "\(function)", code: code, message: message)
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
