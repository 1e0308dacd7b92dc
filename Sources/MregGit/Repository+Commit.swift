import CGit2
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Repository {
    /// Commits `changes` on top of `parent` and moves `branch` from `parent` to the new commit by
    /// compare-and-swap (`parent` nil, or `newBranch`: the branch must not exist yet). When `branch` is checked out
    /// in a working tree, the changed files in the index and working tree are updated too, so
    /// `git status` stays clean; otherwise only objects and the ref change.
    @discardableResult
    public func commit(
        changes: [String: TreeChange], onBranch branch: String, parent: ObjectID?, newBranch: Bool = false,
        message: String, identity: Identity
    ) throws(GitError) -> ObjectID {
        let baseTree = try parent.map { p throws(GitError) in try treeID(ofCommit: p) }
        let newTree = try writeTree(base: baseTree, changes: changes)
        let id = try createCommit(
            tree: newTree, parents: parent.map { [$0] } ?? [], message: message, author: identity.author,
            committer: identity.committer)
        try moveBranch(branch, to: id, expected: newBranch ? nil : parent, message: "mreg: " + (message.split(separator: "\n").first.map(String.init) ?? ""))
        return id
    }

    /// Moves `branch` from `expected` (nil: it must not exist) to the commit `target` by
    /// compare-and-swap. When the branch is checked out in a working tree, the files that differ
    /// between the two commits are updated in the index and working tree too — and the move is
    /// refused, before anything changes, if any of them has uncommitted changes.
    public func moveBranch(_ branch: String, to target: ObjectID, expected: ObjectID?, message: String) throws(GitError) {
        let checkedOut = !isBare && headReferenceName == branch
        guard checkedOut else {
            try updateReference(branch, to: target, expected: expected, message: message)
            return
        }
        let oldTree = try expected.map { p throws(GitError) in try treeID(ofCommit: p) }
        let newTree = try treeID(ofCommit: target)
        let changed = try diffTrees(oldTree, newTree).map(\.path)
        // Another mreg process may be between moving this branch and updating the files: wait for
        // it, so its half-done update never looks like a local edit.
        try withWorktreeLock { () throws(GitError) in
            let dirty = try dirtyPaths(changed)
            if !dirty.isEmpty {
                // The branch may have moved meanwhile; that is the clearer report.
                if try referenceTarget(branch) != expected {
                    throw GitError.refMoved(ref: branch, expected: expected, actual: try referenceTarget(branch))
                }
                throw GitError.dirtyWorkingTree(dirty)
            }
            try updateReference(branch, to: target, expected: expected, message: message)
            if !changed.isEmpty {
                try syncWorkingTree(from: oldTree, to: newTree, paths: changed)
            }
        }
    }

    /// Runs `body` holding an exclusive lock beside the index, shared by all mreg processes.
    func withWorktreeLock<T>(_ body: () throws(GitError) -> T) throws(GitError) -> T {
        let fd = Glibc.open(gitDir + "mreg-worktree.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        if fd >= 0 {
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer {
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
            }
        }
        return try body()
    }

    /// Paths among `paths` whose index or working-tree state differs from HEAD.
    public func dirtyPaths(_ paths: [String]) throws(GitError) -> [String] {
        var dirty = [String]()
        for path in paths {
            var flags: UInt32 = 0
            let result = git_status_file(&flags, pointer, path)
            if result == GIT_ENOTFOUND.rawValue { continue }
            try check(result, "git_status_file")
            if flags != GIT_STATUS_CURRENT.rawValue && flags & GIT_STATUS_IGNORED.rawValue == 0 {
                dirty.append(path)
            }
        }
        return dirty
    }

    /// Brings `paths` in the index and working tree from `old` to `new`, leaving every other file
    /// alone. Callers hold the worktree lock.
    func syncWorkingTree(from old: ObjectID?, to new: ObjectID, paths: [String]) throws(GitError) {
        var newOID = new.oid
        var target: OpaquePointer?
        try check(git_object_lookup(&target, pointer, &newOID, GIT_OBJECT_TREE), "git_object_lookup")
        defer { git_object_free(target) }
        var baseline: OpaquePointer?
        // libgit2 knows the empty tree without it being written.
        var baselineOID = (old ?? ObjectID.emptyTree).oid
        try check(git_tree_lookup(&baseline, pointer, &baselineOID), "git_tree_lookup")
        defer { git_tree_free(baseline) }

        var options = git_checkout_options()
        try check(git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "git_checkout_options_init")
        options.checkout_strategy = GIT_CHECKOUT_SAFE.rawValue | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue
        options.baseline = baseline
        let cStrings = paths.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers = cStrings
        var attempt = 0
        while true {
            let result = pointers.withUnsafeMutableBufferPointer { buffer in
                options.paths = git_strarray(strings: buffer.baseAddress, count: buffer.count)
                return git_checkout_tree(pointer, target, &options)
            }
            // Another process (plain git, say) may hold index.lock for a moment.
            if result == GIT_ELOCKED.rawValue && attempt < 50 {
                attempt += 1
                usleep(20_000)
                continue
            }
            try check(result, "git_checkout_tree")
            return
        }
    }
}
