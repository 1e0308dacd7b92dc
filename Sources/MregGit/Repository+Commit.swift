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
            try repairInterruptedMoveLocked()
            // Every mreg process moves a checked-out branch under this lock, so a branch that moved
            // since the caller looked is a lost race: report it before touching any file.
            let current = try referenceTarget(branch)
            if current != expected { throw GitError.refMoved(ref: branch, expected: expected, actual: current) }
            let dirty = try dirtyPaths(changed)
            if !dirty.isEmpty {
                // The branch may have moved meanwhile; that is the clearer report.
                if try referenceTarget(branch) != expected {
                    throw GitError.refMoved(ref: branch, expected: expected, actual: try referenceTarget(branch))
                }
                throw GitError.dirtyWorkingTree(dirty)
            }
            // Files and index first, then the ref: killed in between, the index holds the new
            // commit's files while the branch still names the old one, so a plain
            // `git commit -am` commits what mreg meant to (it can never delete a version), and
            // the next mreg command puts things back from the journal.
            try writeMoveJournal(MoveJournal(branch: branch, old: expected, new: target))
            if !changed.isEmpty { try syncWorkingTree(from: oldTree, to: newTree, paths: changed) }
            faultPoint("worktree-before-ref")
            do throws(GitError) {
                try updateReference(branch, to: target, expected: expected, message: message)
            } catch {
                // Put the files back; if even that fails, the journal stays and the next command repairs.
                do throws(GitError) {
                    if !changed.isEmpty { try syncWorkingTree(from: newTree, to: oldTree ?? ObjectID.emptyTree, paths: changed) }
                    removeMoveJournal()
                } catch {}
                throw error
            }
            removeMoveJournal()
        }
    }

    /// A branch move in progress, written beside the index before the working tree changes and
    /// removed once the ref has moved (or the files are back).
    struct MoveJournal {
        var branch: String
        var old: ObjectID?
        var new: ObjectID
    }

    private var moveJournalPath: String { gitDir + "mreg-worktree-move" }

    private func writeMoveJournal(_ j: MoveJournal) throws(GitError) {
        let text = "\(j.branch)\n\(j.old?.hex ?? "none")\n\(j.new.hex)\n"
        guard FileManager.default.createFile(atPath: moveJournalPath, contents: Data(text.utf8)) else {
            throw GitError.invalidPath("cannot write '\(moveJournalPath)'")
        }
    }

    private func removeMoveJournal() { unlink(moveJournalPath) }

    /// Finishes what a killed mreg left half done: when the journal of a branch move is there and
    /// the branch still names the old commit, the files it changed go back to the old commit's
    /// (the new one never landed); when the branch names the new one, the files are right already.
    /// Run by every command that opens a registry; costs one `stat` when there is nothing to do.
    public func repairInterruptedMove() throws(GitError) {
        guard !isBare, access(moveJournalPath, F_OK) == 0 else { return }
        try withWorktreeLock { () throws(GitError) in try repairInterruptedMoveLocked() }
    }

    private func repairInterruptedMoveLocked() throws(GitError) {
        guard let data = FileManager.default.contents(atPath: moveJournalPath) else { return }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        defer { removeMoveJournal() }
        guard lines.count == 3, let new = ObjectID(hex: lines[2]) else { return }
        let old = lines[1] == "none" ? nil : ObjectID(hex: lines[1])
        guard headReferenceName == lines[0], try referenceTarget(lines[0]) == old, contains(new) else { return }
        let oldTree = try old.map { p throws(GitError) in try treeID(ofCommit: p) } ?? ObjectID.emptyTree
        let newTree = try treeID(ofCommit: new)
        let changed = try diffTrees(oldTree, newTree).map(\.path)
        if !changed.isEmpty { try syncWorkingTree(from: newTree, to: oldTree, paths: changed, force: true) }
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
    func syncWorkingTree(from old: ObjectID?, to new: ObjectID, paths: [String], force: Bool = false) throws(GitError) {
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
        // Repairs force: a kill mid-checkout leaves some of these (mreg's own) files old, some new.
        options.checkout_strategy = (force ? GIT_CHECKOUT_FORCE.rawValue : GIT_CHECKOUT_SAFE.rawValue) | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue
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

/// Ends the process at a named point when `MREG_FAULT_INJECT` names it: how the kill -9 tests
/// stop mreg exactly between two steps. Unset (always, outside those tests) it does nothing.
func faultPoint(_ name: StaticString) {
    guard let wanted = getenv("MREG_FAULT_INJECT"), String(cString: wanted) == "\(name)" else { return }
    _exit(137)
}
