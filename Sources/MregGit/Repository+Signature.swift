import CGit2
import Foundation

/// A commit's signature as Git stores it: the `gpgsig` header and the bytes it signs.
public struct CommitSignature: Sendable, Equatable {
    /// The armored signature (`-----BEGIN SSH SIGNATURE-----` ... or a PGP block).
    public var signature: String
    /// The commit object without its `gpgsig` header: what the signer signed.
    public var signedData: Data
}

extension Repository {
    /// The signature of commit `id`, nil when the commit is not signed.
    public func commitSignature(_ id: ObjectID) throws(GitError) -> CommitSignature? {
        var oid = id.oid
        var signature = git_buf()
        var signed = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signed)
        }
        let result = git_commit_extract_signature(&signature, &signed, pointer, &oid, nil)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_commit_extract_signature")
        let text = signature.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: signature.size), as: UTF8.self) } ?? ""
        let data = signed.ptr.map { Data(bytes: $0, count: signed.size) } ?? Data()
        return CommitSignature(signature: text, signedData: data)
    }
}
