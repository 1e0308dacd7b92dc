import CGit2

/// How a file differs between two trees.
public struct FileChange: Sendable, Equatable {
    public enum Status: String, Sendable { case added, modified, deleted }
    public var path: String
    public var status: Status
    public var oldID: ObjectID?
    public var newID: ObjectID?
}

extension Repository {
    /// Commit ids reachable from `tip`, newest first (topological, then by time); with
    /// `firstParent`, only the first-parent chain (the history of a branch as it moved).
    public func log(from tip: ObjectID, firstParent: Bool = false, limit: Int = .max) throws(GitError) -> [ObjectID] {
        var walk: OpaquePointer?
        try check(git_revwalk_new(&walk, pointer), "git_revwalk_new")
        defer { git_revwalk_free(walk) }
        try check(git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue), "git_revwalk_sorting")
        if firstParent { try check(git_revwalk_simplify_first_parent(walk), "git_revwalk_simplify_first_parent") }
        var oid = tip.oid
        try check(git_revwalk_push(walk, &oid), "git_revwalk_push")
        var ids = [ObjectID]()
        var next = git_oid()
        while ids.count < limit {
            let result = git_revwalk_next(&next, walk)
            if result == GIT_ITEROVER.rawValue { break }
            try check(result, "git_revwalk_next")
            ids.append(ObjectID(next))
        }
        return ids
    }

    /// Commits on the first-parent chain from `tip` whose tree differs from their first parent's at
    /// any of `paths` (a file or folder each), newest first, with the ids the paths had.
    public func history(
        from tip: ObjectID, touching paths: [String], limit: Int = .max
    ) throws(GitError) -> [(commit: ObjectID, entries: [ObjectID?])] {
        var result = [(commit: ObjectID, entries: [ObjectID?])]()
        var current: ObjectID? = tip
        var currentEntries = try pathEntries(commit: tip, paths: paths)
        while let id = current, result.count < limit {
            let parent = try firstParent(ofCommit: id)
            let parentEntries = try parent.map { p throws(GitError) in try pathEntries(commit: p, paths: paths) }
                ?? Array(repeating: nil, count: paths.count)
            if parentEntries != currentEntries {
                result.append((id, currentEntries))
            }
            current = parent
            currentEntries = parentEntries
        }
        return result
    }

    private func pathEntries(commit: ObjectID, paths: [String]) throws(GitError) -> [ObjectID?] {
        let tree = try treeID(ofCommit: commit)
        var out = [ObjectID?]()
        for path in paths {
            out.append(try entry(at: path, inTree: tree)?.id)
        }
        return out
    }

    /// The files that differ between two trees (nil: the empty tree), paths prefixed with `prefix`.
    /// Equal subtrees are skipped without being read, so the cost follows the size of the change.
    public func diffTrees(_ old: ObjectID?, _ new: ObjectID?, prefix: String = "") throws(GitError) -> [FileChange] {
        var changes = [FileChange]()
        try diff(old, new, prefix: prefix, into: &changes)
        return changes
    }

    private func diff(_ old: ObjectID?, _ new: ObjectID?, prefix: String, into changes: inout [FileChange]) throws(GitError) {
        if old == new { return }
        let oldEntries = try old.map { t throws(GitError) in try entries(ofTree: t) } ?? []
        let newEntries = try new.map { t throws(GitError) in try entries(ofTree: t) } ?? []
        var oldByName = [String: TreeEntry]()
        for e in oldEntries { oldByName[e.name] = e }
        var names = Set(oldEntries.map(\.name))
        for e in newEntries { names.insert(e.name) }
        var newByName = [String: TreeEntry]()
        for e in newEntries { newByName[e.name] = e }
        for name in names.sorted() {
            let o = oldByName[name], n = newByName[name]
            let path = prefix.isEmpty ? name : prefix + "/" + name
            if let o, let n, o.id == n.id, o.mode == n.mode { continue }
            let oTree = o?.kind == .tree ? o : nil, nTree = n?.kind == .tree ? n : nil
            let oFile = o?.kind == .tree ? nil : o, nFile = n?.kind == .tree ? nil : n
            if oTree != nil || nTree != nil {
                try diff(oTree?.id, nTree?.id, prefix: path, into: &changes)
            }
            switch (oFile, nFile) {
            case (nil, nil): break
            case (nil, let n?): changes.append(FileChange(path: path, status: .added, oldID: nil, newID: n.id))
            case (let o?, nil): changes.append(FileChange(path: path, status: .deleted, oldID: o.id, newID: nil))
            case (let o?, let n?): changes.append(FileChange(path: path, status: .modified, oldID: o.id, newID: n.id))
            }
        }
    }

    /// The best common ancestor of two commits, nil when they share none.
    public func mergeBase(_ a: ObjectID, _ b: ObjectID) throws(GitError) -> ObjectID? {
        var out = git_oid()
        var ao = a.oid, bo = b.oid
        let result = git_merge_base(&out, pointer, &ao, &bo)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_merge_base")
        return ObjectID(out)
    }

    /// True when `ancestor` is reachable from `descendant` (or equal to it).
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) throws(GitError) -> Bool {
        if ancestor == descendant { return true }
        var a = descendant.oid, b = ancestor.oid
        let result = git_graph_descendant_of(pointer, &a, &b)
        try check(result, "git_graph_descendant_of")
        return result == 1
    }
}
