import CGit2
import Foundation

/// One edit to a tree: put a blob at a path, or remove whatever is there.
public enum TreeChange: Sendable, Equatable {
    case blob(ObjectID, executable: Bool = false)
    case delete
}

extension Repository {
    /// Writes `data` as a blob and returns its id.
    public func writeBlob(_ data: Data) throws(GitError) -> ObjectID {
        var oid = git_oid()
        let result = data.withUnsafeBytes { raw in
            git_blob_create_from_buffer(&oid, pointer, raw.baseAddress, raw.count)
        }
        try check(result, "git_blob_create_from_buffer")
        return ObjectID(oid)
    }

    /// Writes the tree that results from applying `changes` (slash-separated paths) to `base`
    /// (nil: the empty tree). Only the trees on the changed paths are rewritten; emptied
    /// folders disappear, as in Git.
    public func writeTree(base: ObjectID?, changes: [String: TreeChange]) throws(GitError) -> ObjectID {
        var split = [[Substring]: TreeChange]()
        for (path, change) in changes {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0 == ".git" }),
                !path.utf8.contains(0)
            else { throw GitError.invalidPath(path) }
            split[parts] = change
        }
        if let tree = try writeTree(base: base, changes: split, depth: 0) { return tree }
        return try emptyTreeID()
    }

    /// The id of the empty tree, written if needed.
    public func emptyTreeID() throws(GitError) -> ObjectID {
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, pointer, nil), "git_treebuilder_new")
        defer { git_treebuilder_free(builder) }
        var oid = git_oid()
        try check(git_treebuilder_write(&oid, builder), "git_treebuilder_write")
        return ObjectID(oid)
    }

    /// Returns nil when the resulting tree is empty.
    private func writeTree(base: ObjectID?, changes: [[Substring]: TreeChange], depth: Int) throws(GitError) -> ObjectID? {
        var baseTree: OpaquePointer?
        if let base {
            var oid = base.oid
            try check(git_tree_lookup(&baseTree, pointer, &oid), "git_tree_lookup")
        }
        defer { if let baseTree { git_tree_free(baseTree) } }
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, pointer, baseTree), "git_treebuilder_new")
        defer { git_treebuilder_free(builder) }

        var subChanges = [Substring: [[Substring]: TreeChange]]()
        for (parts, change) in changes {
            let name = parts[depth]
            if parts.count == depth + 1 {
                switch change {
                case .delete:
                    if git_treebuilder_get(builder, String(name)) != nil {
                        try check(git_treebuilder_remove(builder, String(name)), "git_treebuilder_remove")
                    }
                case .blob(let id, let executable):
                    var oid = id.oid
                    let mode = executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB
                    try check(git_treebuilder_insert(nil, builder, String(name), &oid, mode), "git_treebuilder_insert")
                }
            } else {
                subChanges[name, default: [:]][parts] = change
            }
        }
        for (name, nested) in subChanges.sorted(by: { $0.key < $1.key }) {
            var subBase: ObjectID?
            if let existing = git_treebuilder_get(builder, String(name)) {
                if git_tree_entry_filemode(existing) == GIT_FILEMODE_TREE {
                    subBase = ObjectID(git_tree_entry_id(existing))
                } else if nested.values.contains(where: { $0 != .delete }) {
                    // A file stands where a folder is wanted: the folder replaces it.
                    try check(git_treebuilder_remove(builder, String(name)), "git_treebuilder_remove")
                } else {
                    continue
                }
            }
            if let sub = try writeTree(base: subBase, changes: nested, depth: depth + 1) {
                var oid = sub.oid
                try check(git_treebuilder_insert(nil, builder, String(name), &oid, GIT_FILEMODE_TREE), "git_treebuilder_insert")
            } else if subBase != nil {
                try check(git_treebuilder_remove(builder, String(name)), "git_treebuilder_remove")
            }
        }
        if git_treebuilder_entrycount(builder) == 0 { return nil }
        var oid = git_oid()
        try check(git_treebuilder_write(&oid, builder), "git_treebuilder_write")
        return ObjectID(oid)
    }

    /// Writes an annotated tag object named `name` for the commit `target` (creating no ref).
    public func createTagObject(name: String, target: ObjectID, message: String, tagger: Signature) throws(GitError) -> ObjectID {
        var targetOID = target.oid
        var object: OpaquePointer?
        try check(git_object_lookup(&object, pointer, &targetOID, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        let sig = try tagger.make()
        defer { git_signature_free(sig) }
        var oid = git_oid()
        try check(git_tag_annotation_create(&oid, pointer, name, object, sig, message), "git_tag_annotation_create")
        return ObjectID(oid)
    }

    /// Writes a commit object (moving no ref) and returns its id.
    public func createCommit(
        tree: ObjectID, parents: [ObjectID], message: String, author: Signature, committer: Signature
    ) throws(GitError) -> ObjectID {
        var treeOID = tree.oid
        var treeObject: OpaquePointer?
        try check(git_tree_lookup(&treeObject, pointer, &treeOID), "git_tree_lookup")
        defer { git_tree_free(treeObject) }
        var parentObjects = [OpaquePointer?]()
        defer { parentObjects.forEach { git_commit_free($0) } }
        for parent in parents {
            var oid = parent.oid
            var commit: OpaquePointer?
            try check(git_commit_lookup(&commit, pointer, &oid), "git_commit_lookup")
            parentObjects.append(commit)
        }
        let authorSig = try author.make()
        defer { git_signature_free(authorSig) }
        let committerSig = try committer.make()
        defer { git_signature_free(committerSig) }
        var oid = git_oid()
        let result = parentObjects.withUnsafeMutableBufferPointer { buffer in
            git_commit_create(
                &oid, pointer, nil, authorSig, committerSig, "UTF-8", message, treeObject, parents.count,
                buffer.baseAddress)
        }
        try check(result, "git_commit_create")
        return ObjectID(oid)
    }

    /// Moves `ref` to `new` only if it still points at `expected` (nil: only if it does not exist).
    /// Losing the race throws `GitError.refMoved`; nothing is ever overwritten blindly.
    public func updateReference(_ ref: String, to new: ObjectID, expected: ObjectID?, message: String) throws(GitError) {
        var newOID = new.oid
        var out: OpaquePointer?
        let result: Int32
        if var expectedOID = expected?.oid {
            // libgit2 1.5 needs force = 1 to update an existing ref; the expected id still guards it.
            result = git_reference_create_matching(&out, pointer, ref, &newOID, 1, &expectedOID, message)
        } else {
            result = git_reference_create(&out, pointer, ref, &newOID, 0, message)
        }
        if result == 0 {
            git_reference_free(out)
            return
        }
        if result == GIT_EMODIFIED.rawValue || result == GIT_EEXISTS.rawValue || result == GIT_ELOCKED.rawValue
            || (result == GIT_ENOTFOUND.rawValue && expected != nil)
        {
            let actual = try? referenceTarget(ref)
            throw GitError.refMoved(ref: ref, expected: expected, actual: actual ?? nil)
        }
        try check(result, "git_reference_create_matching")
    }

    /// Deletes `ref` only if it still points at `expected`.
    public func deleteReference(_ ref: String, expected: ObjectID) throws(GitError) {
        var out: OpaquePointer?
        let lookup = git_reference_lookup(&out, pointer, ref)
        if lookup == GIT_ENOTFOUND.rawValue { throw GitError.refMoved(ref: ref, expected: expected, actual: nil) }
        try check(lookup, "git_reference_lookup")
        defer { git_reference_free(out) }
        guard let target = git_reference_target(out), ObjectID(target) == expected else {
            throw GitError.refMoved(ref: ref, expected: expected, actual: try? referenceTarget(ref))
        }
        // libgit2 deletes only if the ref still holds the id just read: a writer that moved or
        // locked it in between is the same lost race as on the create path.
        let result = git_reference_delete(out)
        if result == GIT_EMODIFIED.rawValue || result == GIT_ELOCKED.rawValue || result == GIT_ENOTFOUND.rawValue {
            let actual = try? referenceTarget(ref)
            throw GitError.refMoved(ref: ref, expected: expected, actual: actual ?? nil)
        }
        try check(result, "git_reference_delete")
    }

    /// True when `name` is a valid full reference name (`refs/heads/promote/x`).
    public static func isValidReferenceName(_ name: String) -> Bool {
        var valid: Int32 = 0
        return git_reference_name_is_valid(&valid, name) == 0 && valid == 1
    }

    /// The names of refs below a prefix such as `refs/heads/`.
    public func referenceNames(prefix: String) throws(GitError) -> [String] {
        var iterator: OpaquePointer?
        try check(git_reference_iterator_glob_new(&iterator, pointer, prefix + "*"), "git_reference_iterator_glob_new")
        defer { git_reference_iterator_free(iterator) }
        var names = [String]()
        var name: UnsafePointer<CChar>?
        while true {
            let result = git_reference_next_name(&name, iterator)
            if result == GIT_ITEROVER.rawValue { break }
            try check(result, "git_reference_next_name")
            names.append(String(cString: name!))
        }
        return names.sorted()
    }
}

extension Signature {
    func make() throws(GitError) -> UnsafeMutablePointer<git_signature> {
        var sig: UnsafeMutablePointer<git_signature>?
        try check(git_signature_new(&sig, name, email, git_time_t(time), offsetMinutes), "git_signature_new")
        return sig!
    }
}
