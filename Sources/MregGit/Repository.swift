import CGit2
import Foundation

let libgit2Initialized: Bool = {
    git_libgit2_init()
    return true
}()

/// A Git repository opened through libgit2.
///
/// Synchronous and not Sendable: one owner at a time (an actor, or one thread). Everything it
/// hands out is a value; libgit2 objects never leave the method that looked them up.
public final class Repository {
    let pointer: OpaquePointer
    /// `.git/shallow` as last read, with the file's stamp (see `shallowBoundary`).
    var shallowCache: (stamp: [Int], ids: Set<ObjectID>)?

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        git_repository_free(pointer)
    }

    /// Opens the repository at `path`; with `search`, also looks in the parent folders.
    public static func open(at path: String, search: Bool = false) throws(GitError) -> Repository {
        _ = libgit2Initialized
        var repo: OpaquePointer?
        let flags: UInt32 = search ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue
        try check(git_repository_open_ext(&repo, path, flags, nil), "git_repository_open_ext")
        return Repository(pointer: repo!)
    }

    /// Creates a new repository at `path` whose HEAD points at the unborn branch `initialBranch`.
    public static func create(at path: String, bare: Bool = false, initialBranch: String = "main") throws(GitError) -> Repository {
        _ = libgit2Initialized
        var options = git_repository_init_options()
        try check(git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION)), "git_repository_init_options_init")
        options.flags = GIT_REPOSITORY_INIT_MKPATH.rawValue | GIT_REPOSITORY_INIT_NO_REINIT.rawValue
        if bare { options.flags |= GIT_REPOSITORY_INIT_BARE.rawValue }
        var repo: OpaquePointer?
        let result = initialBranch.withCString { branch in
            options.initial_head = branch
            return git_repository_init_ext(&repo, path, &options)
        }
        try check(result, "git_repository_init_ext")
        return Repository(pointer: repo!)
    }

    /// True when the repository has no working tree.
    public var isBare: Bool { git_repository_is_bare(pointer) == 1 }

    /// The working tree folder (with a trailing slash), nil when bare.
    public var workdir: String? {
        git_repository_workdir(pointer).map { String(cString: $0) }
    }

    /// The `.git` folder, or the repository itself when bare.
    public var gitDir: String { String(cString: git_repository_path(pointer)) }

    /// The branch HEAD points at (`refs/heads/main`), also when it is unborn; nil when detached.
    public var headReferenceName: String? {
        var ref: OpaquePointer?
        guard git_reference_lookup(&ref, pointer, "HEAD") == 0, let ref else { return nil }
        defer { git_reference_free(ref) }
        guard git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC, let target = git_reference_symbolic_target(ref) else { return nil }
        return String(cString: target)
    }

    /// Points HEAD at `refName` (which may not exist yet).
    public func setHead(_ refName: String) throws(GitError) {
        try check(git_repository_set_head(pointer, refName), "git_repository_set_head")
    }

    /// Reads a string from the repository's configuration (local, global, XDG and system), nil when unset.
    public func configString(_ key: String) throws(GitError) -> String? {
        var config: OpaquePointer?
        try check(git_repository_config_snapshot(&config, pointer), "git_repository_config_snapshot")
        defer { git_config_free(config) }
        var value: UnsafePointer<CChar>?
        let result = git_config_get_string(&value, config, key)
        if result == GIT_ENOTFOUND.rawValue { return nil }
        try check(result, "git_config_get_string")
        return value.map { String(cString: $0) }
    }

    /// Sets a string in the repository's own (local) configuration.
    public func setConfigString(_ key: String, _ value: String) throws(GitError) {
        var config: OpaquePointer?
        try check(git_repository_config(&config, pointer), "git_repository_config")
        defer { git_config_free(config) }
        var local: OpaquePointer?
        try check(git_config_open_level(&local, config, GIT_CONFIG_LEVEL_LOCAL), "git_config_open_level")
        defer { git_config_free(local) }
        try check(git_config_set_string(local, key, value), "git_config_set_string")
    }
}
