import Foundation
import MregGit
import MregReconciler

/// `--repo URL`: a bare mirror of the remote's main branch, kept fresh by fetching when the branch
/// moves; the same mirror and fetch code the reconciler uses.
public struct UIMirror: Sendable {
    public let url: String
    public let path: String
    public let branch: String
    public let credentials: Credentials

    public init(url: String, path: String, branch: String = "main", credentials: Credentials = .fromEnvironment()) {
        self.url = url
        self.path = path
        self.branch = branch
        self.credentials = credentials
    }

    /// Creates the mirror when absent and fetches the branch; an error when the remote has none.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let repo = try Reconciler.openMirror(path, own: false, branch: branch)
        try repo.fetchBranch(branch, url: url, into: "refs/heads/" + branch, credentials: credentials)
    }

    /// Fetches when the remote branch moved; true when it did. Opens its own handle, so pages keep
    /// being served from the other one meanwhile (the new objects and ref are on disk for it).
    @discardableResult
    public func refresh() throws -> Bool {
        let repo = try Repository.open(at: path)
        let ref = "refs/heads/" + branch
        let remote = try repo.remoteReferences(url: url, credentials: credentials)
        guard let tip = remote[ref] else { throw GitError.notFound("branch '\(branch)' on the remote") }
        if try repo.referenceTarget(ref) == tip { return false }
        try repo.fetchBranch(branch, url: url, into: ref, credentials: credentials)
        return true
    }
}
