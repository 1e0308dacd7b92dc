import CGit2
import Foundation

/// A person and a moment, as recorded in a commit.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    /// Seconds since 1970.
    public var time: Int64
    /// Offset from UTC in minutes.
    public var offsetMinutes: Int32

    public init(name: String, email: String, time: Int64, offsetMinutes: Int32 = 0) {
        self.name = name
        self.email = email
        self.time = time
        self.offsetMinutes = offsetMinutes
    }

    init(_ sig: UnsafePointer<git_signature>) {
        name = String(cString: sig.pointee.name)
        email = String(cString: sig.pointee.email)
        time = sig.pointee.when.time
        offsetMinutes = sig.pointee.when.offset
    }

    /// `Name <email>`.
    public var formatted: String { "\(name) <\(email)>" }

    /// The moment as a Date.
    public var date: Date { Date(timeIntervalSince1970: TimeInterval(time)) }
}

/// A commit copied out of libgit2.
public struct CommitInfo: Sendable, Equatable {
    public var id: ObjectID
    public var tree: ObjectID
    public var parents: [ObjectID]
    public var author: Signature
    public var committer: Signature
    public var message: String

    /// The first line of the message.
    public var summary: String {
        String(message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}

/// What a tree entry points at.
public enum EntryKind: Sendable, Equatable {
    case blob, tree, link, submodule
}

/// One entry of a tree.
public struct TreeEntry: Sendable, Equatable {
    public var name: String
    public var id: ObjectID
    public var kind: EntryKind
    public var mode: UInt32

    init(_ entry: OpaquePointer) {
        name = String(cString: git_tree_entry_name(entry))
        id = ObjectID(git_tree_entry_id(entry))
        mode = git_tree_entry_filemode(entry).rawValue
        switch git_tree_entry_filemode(entry) {
        case GIT_FILEMODE_TREE: kind = .tree
        case GIT_FILEMODE_LINK: kind = .link
        case GIT_FILEMODE_COMMIT: kind = .submodule
        default: kind = .blob
        }
    }

    /// True for a regular file that may be executed.
    public var isExecutable: Bool { mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue }
}

extension Repository {
    /// The commit a revision (`main`, `refs/heads/x`, `HEAD~2`, a hex id) names, nil when it names nothing.
    public func resolveCommit(_ revision: String) throws(GitError) -> ObjectID? {
        var object: OpaquePointer?
        let result = git_revparse_single(&object, pointer, revision)
        if result == GIT_ENOTFOUND.rawValue || result == GIT_EAMBIGUOUS.rawValue || result == GIT_EINVALIDSPEC.rawValue {
            return nil
        }
        try check(result, "git_revparse_single")
        defer { git_object_free(object) }
        var peeled: OpaquePointer?
        let peel = git_object_peel(&peeled, object, GIT_OBJECT_COMMIT)
        if peel == GIT_EINVALIDSPEC.rawValue || peel == GIT_ENOTFOUND.rawValue || peel == GIT_EPEEL.rawValue { return nil }
        try check(peel, "git_object_peel")
        defer { git_object_free(peeled) }
        return ObjectID(git_object_id(peeled))
    }

    /// The id a ref points at directly (resolving symbolic refs), nil when the ref does not exist or is unborn.
    public func referenceTarget(_ name: String) throws(GitError) -> ObjectID? {
        var oid = git_oid()
        let result = git_reference_name_to_id(&oid, pointer, name)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_reference_name_to_id")
        return ObjectID(oid)
    }

    /// Reads a commit.
    public func commit(_ id: ObjectID) throws(GitError) -> CommitInfo {
        var oid = id.oid
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, pointer, &oid), "git_commit_lookup")
        defer { git_commit_free(commit) }
        var parents = [ObjectID]()
        let count = git_commit_parentcount(commit)
        for i in 0..<count {
            parents.append(ObjectID(git_commit_parent_id(commit, i)))
        }
        return CommitInfo(
            id: id,
            tree: ObjectID(git_commit_tree_id(commit)),
            parents: parents,
            author: Signature(git_commit_author(commit)),
            committer: Signature(git_commit_committer(commit)),
            message: git_commit_message(commit).map { String(cString: $0) } ?? ""
        )
    }

    /// The tree of a commit, without copying the rest of it.
    public func treeID(ofCommit id: ObjectID) throws(GitError) -> ObjectID {
        var oid = id.oid
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, pointer, &oid), "git_commit_lookup")
        defer { git_commit_free(commit) }
        return ObjectID(git_commit_tree_id(commit))
    }

    /// The first parent of a commit, nil for a root commit and for a commit at the boundary of a
    /// shallow clone (listed in `.git/shallow`: its parents were never fetched).
    public func firstParent(ofCommit id: ObjectID) throws(GitError) -> ObjectID? {
        var oid = id.oid
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, pointer, &oid), "git_commit_lookup")
        defer { git_commit_free(commit) }
        guard git_commit_parentcount(commit) > 0, !shallowBoundary.contains(id) else { return nil }
        return ObjectID(git_commit_parent_id(commit, 0))
    }

    /// True when the repository is a shallow clone: some history was never fetched.
    public var isShallow: Bool { !shallowBoundary.isEmpty }

    /// The commits of `.git/shallow`, whose parents a shallow clone does not have.
    /// Checked with one `stat` per call (history walks call it per commit); read again only when
    /// the file changed.
    public var shallowBoundary: Set<ObjectID> {
        var st = stat()
        guard stat(gitDir + "shallow", &st) == 0 else { return [] }
        let stamp = [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_size), Int(st.st_ino)]
        if let cached = shallowCache, cached.stamp == stamp { return cached.ids }
        let text = (try? String(contentsOfFile: gitDir + "shallow", encoding: .utf8)) ?? ""
        let ids = Set(text.split(whereSeparator: \.isNewline).compactMap { ObjectID(hex: String($0)) })
        shallowCache = (stamp, ids)
        return ids
    }

    /// The entries of a tree, in Git's order.
    public func entries(ofTree id: ObjectID) throws(GitError) -> [TreeEntry] {
        var oid = id.oid
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, pointer, &oid), "git_tree_lookup")
        defer { git_tree_free(tree) }
        let count = git_tree_entrycount(tree)
        var result = [TreeEntry]()
        result.reserveCapacity(count)
        for i in 0..<count {
            result.append(TreeEntry(git_tree_entry_byindex(tree, i)))
        }
        return result
    }

    /// The entry at a slash-separated `path` below the tree `root`, nil when there is none.
    public func entry(at path: String, inTree root: ObjectID) throws(GitError) -> TreeEntry? {
        if path.isEmpty { return TreeEntry(rootOf: root) }
        var oid = root.oid
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, pointer, &oid), "git_tree_lookup")
        defer { git_tree_free(tree) }
        var entry: OpaquePointer?
        let result = git_tree_entry_bypath(&entry, tree, path)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_tree_entry_bypath")
        defer { git_tree_entry_free(entry) }
        return TreeEntry(entry!)
    }

    /// The contents of a blob.
    public func blob(_ id: ObjectID) throws(GitError) -> Data {
        try checkLooseObject(id)
        var oid = id.oid
        var blob: OpaquePointer?
        try check(git_blob_lookup(&blob, pointer, &oid), "git_blob_lookup")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let raw = git_blob_rawcontent(blob) else { return Data() }
        return Data(bytes: raw, count: size)
    }

    /// The contents of the file at `path` in tree `root`; nil when absent or not a regular file.
    public func file(at path: String, inTree root: ObjectID) throws(GitError) -> Data? {
        guard let entry = try entry(at: path, inTree: root), entry.kind == .blob else { return nil }
        return try blob(entry.id)
    }

    /// True when the object exists in the object database.
    public func contains(_ id: ObjectID) -> Bool {
        var odb: OpaquePointer?
        guard git_repository_odb(&odb, pointer) == 0 else { return false }
        defer { git_odb_free(odb) }
        var oid = id.oid
        return git_odb_exists(odb, &oid) == 1
    }
}

extension TreeEntry {
    init(rootOf id: ObjectID) {
        self.init(name: "", id: id, kind: .tree, mode: GIT_FILEMODE_TREE.rawValue)
    }

    init(name: String, id: ObjectID, kind: EntryKind, mode: UInt32) {
        self.name = name
        self.id = id
        self.kind = kind
        self.mode = mode
    }
}
