import Foundation
import MregTestSupport
import Testing

@testable import MregGit

/// `deleteReference` loses a race the way `updateReference` does: with `GitError.refMoved`, never
/// with a bare libgit2 error.
@Suite struct DeleteReferenceTests {
    @Test func aRefAnotherWriterHoldsIsAMovedRef() throws {
        let dir = TempDir("git-delete")
        defer { dir.remove() }
        let repo = try Repository.create(at: dir.path)
        let c1 = try repo.commit(changes: try blobs(repo, ["a": "1"]), onBranch: "refs/heads/main", parent: nil, message: "1",
                                 identity: fixedIdentity)
        try repo.updateReference("refs/heads/promote/x", to: c1, expected: nil, message: "x")
        // Another writer is updating the ref right now (git and libgit2 both take `<ref>.lock`).
        let lock = dir.sub(".git/refs/heads/promote/x.lock")
        #expect(FileManager.default.createFile(atPath: lock, contents: Data()))
        #expect(throws: GitError.refMoved(ref: "refs/heads/promote/x", expected: c1, actual: c1)) {
            try repo.deleteReference("refs/heads/promote/x", expected: c1)
        }
        unlink(lock)
        try repo.deleteReference("refs/heads/promote/x", expected: c1)
        #expect(try repo.referenceTarget("refs/heads/promote/x") == nil)
        // A ref that is gone is a moved ref too.
        #expect(throws: GitError.refMoved(ref: "refs/heads/promote/x", expected: c1, actual: nil)) {
            try repo.deleteReference("refs/heads/promote/x", expected: c1)
        }
    }
}
