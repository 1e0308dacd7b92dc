import Foundation
import MregCore
import MregGit

/// A registry: the folder holding `mreg.yaml` inside a Git repository (possibly a subfolder of a
/// larger one), read and written through libgit2.
///
/// Reads come from commits, never from the working tree; writes are commits on a branch made by
/// compare-and-swap. Not Sendable: one owner at a time.
public final class Registry {
    public let repository: Repository
    /// The registry folder relative to the repository root, with a trailing slash; empty at the root.
    public let prefix: String
    /// The registry folder on disk, nil for a bare repository.
    public let directory: String?
    /// The process environment, for the commit identity (`GIT_AUTHOR_*`, ...).
    public var environment: [String: String]
    /// The remote whose tracking branch stands in for main when there is no local main branch
    /// (from `evaluate --changed --base REMOTE/BRANCH`); nil: `origin`, then any.
    public var mainRemote: String?
    /// Whether registering reserves its version number on the remote as well as locally
    /// (`register --no-reserve` turns it off; see `Registry+Reserve.swift`).
    public var reserveOnRemote = true
    /// The remote that reserves version numbers; nil: `origin`, else the only remote.
    public var reservationRemote: String?
    /// What each first-parent commit changed, loaded on first use (see `ChangeIndex`).
    lazy var changeIndex = ChangeIndex(repository: repository, prefix: prefix)

    init(repository: Repository, prefix: String, directory: String?, environment: [String: String]) {
        self.repository = repository
        self.prefix = prefix
        self.directory = directory
        self.environment = environment
    }

    /// Finds the registry: `explicit` (a registry folder or a bare repository) when given, else the
    /// nearest folder at or above `cwd` holding `mreg.yaml`.
    public static func discover(
        explicit: String? = nil, cwd: String = FileManager.default.currentDirectoryPath,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Registry {
        let fm = FileManager.default
        if let explicit {
            let path = absolute(explicit, relativeTo: cwd)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
                throw RegistryError.noRegistry("'\(explicit)' is not a folder")
            }
            if fm.fileExists(atPath: path + "/" + RegistryConfig.fileName) {
                return try open(directory: path, environment: environment)
            }
            if let repo = try? Repository.open(at: path), repo.isBare {
                return Registry(repository: repo, prefix: "", directory: nil, environment: environment)
            }
            throw RegistryError.noRegistry("'\(explicit)' has no \(RegistryConfig.fileName)")
        }
        var dir = URL(fileURLWithPath: cwd).standardizedFileURL.path
        while true {
            if fm.fileExists(atPath: dir + "/" + RegistryConfig.fileName) {
                return try open(directory: dir, environment: environment)
            }
            if dir == "/" || dir.isEmpty { break }
            dir = (dir as NSString).deletingLastPathComponent
        }
        throw RegistryError.noRegistry("no \(RegistryConfig.fileName) in '\(cwd)' or its parents (run `mreg init`, or pass --registry)")
    }

    /// Opens the registry whose `mreg.yaml` lies in `directory`.
    static func open(directory: String, environment: [String: String]) throws -> Registry {
        let repo: Repository
        do {
            repo = try Repository.open(at: directory, search: true)
        } catch {
            throw RegistryError.noRegistry("'\(directory)' is not inside a Git repository")
        }
        guard let workdir = repo.workdir else {
            return Registry(repository: repo, prefix: "", directory: directory, environment: environment)
        }
        // A command killed between writing files and moving the branch left a journal: finish it.
        try repo.repairInterruptedMove()
        let real = realPath(directory)
        let root = realPath(workdir)
        guard real == root || real.hasPrefix(root + "/") else {
            throw RegistryError.noRegistry("'\(directory)' is outside the repository at '\(workdir)'")
        }
        let relative = real == root ? "" : String(real.dropFirst(root.count + 1)) + "/"
        return Registry(repository: repo, prefix: relative, directory: directory, environment: environment)
    }

    static func absolute(_ path: String, relativeTo cwd: String) -> String {
        let full = path.hasPrefix("/") ? path : cwd + "/" + path
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    /// `realPath`, for tests that compare paths the way mreg prints them.
    public static func realPathForTests(_ path: String) -> String { realPath(path) }

    static func realPath(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let resolved = realpath(p, nil) else { return p }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The branch commands write to: the one HEAD points at.
    public func currentBranch() throws -> String {
        guard let ref = repository.headReferenceName, ref.hasPrefix("refs/heads/") else {
            throw RegistryError.invalidInput("HEAD is detached; check out a branch first")
        }
        return ref
    }

    /// The registry as of the tip of `branch` (a full ref name); nil when the branch has no commits.
    public func snapshot(branch: String) throws -> Snapshot? {
        guard let tip = try repository.referenceTarget(branch) else { return nil }
        return try snapshot(commit: tip)
    }

    /// The registry as of `commit`.
    public func snapshot(commit: ObjectID) throws -> Snapshot {
        let rootTree = try repository.treeID(ofCommit: commit)
        let tree: ObjectID?
        if prefix.isEmpty {
            tree = rootTree
        } else {
            let entry = try repository.entry(at: String(prefix.dropLast()), inTree: rootTree)
            tree = entry?.kind == .tree ? entry?.id : nil
        }
        return Snapshot(repository: repository, commit: commit, tree: tree, prefix: prefix)
    }

    /// The registry at the tip of the current branch; an error when there is none there.
    public func head() throws -> Snapshot {
        // A detached HEAD (as in CI checkouts of a pull request) reads fine; only writes need a branch.
        let branch = repository.headReferenceName ?? "HEAD"
        guard let tip = try repository.resolveCommit("HEAD") else {
            throw RegistryError.noRegistry("branch '\(shortName(branch))' has no commits yet")
        }
        let snap = try snapshot(commit: tip)
        guard snap.exists else {
            throw RegistryError.noRegistry("branch '\(shortName(branch))' has no committed \(prefix)\(RegistryConfig.fileName)")
        }
        return snap
    }

    /// The registry at the tip of the main branch named in `mreg.yaml` (deployments live there),
    /// found the way CI checkouts have it: the local branch, else a remote-tracking branch
    /// (`mainRemote`, then `origin`, then any remote). Never the current commit in disguise: when
    /// main is nowhere, an error says what to fetch.
    public func main() throws -> Snapshot {
        let current = try head()
        let name = try current.config().mainBranch
        let tip = try mainTip(name)
        if tip.commit == current.commit { return current }
        let snap = try snapshot(commit: tip.commit)
        guard snap.exists else {
            throw RegistryError.noRegistry("'\(shortName(tip.ref))' has no \(prefix)\(RegistryConfig.fileName) yet; merge the registry into it first")
        }
        return snap
    }

    /// `main()`, or nil when there is no main branch here yet (or it has no registry yet); every
    /// other failure (a main whose files do not parse, a Git error) is thrown.
    func mainIfFound() throws -> Snapshot? {
        do {
            return try main()
        } catch RegistryError.mainNotFound {
            return nil
        } catch RegistryError.noRegistry {
            return nil
        }
    }

    /// Where the main branch `name` is: `refs/heads/NAME`, else `refs/remotes/REMOTE/NAME`.
    public func mainTip(_ name: String) throws -> (ref: String, commit: ObjectID) {
        let local = "refs/heads/" + name
        if let tip = try repository.referenceTarget(local) { return (local, tip) }
        let remotes = try repository.remoteNames()
        var order = [String]()
        for r in [mainRemote, "origin"].compactMap({ $0 }) + remotes where !order.contains(r) { order.append(r) }
        for remote in order {
            let ref = "refs/remotes/\(remote)/\(name)"
            if let tip = try repository.referenceTarget(ref) { return (ref, tip) }
        }
        let remote = mainRemote ?? (remotes.contains("origin") || remotes.isEmpty ? "origin" : remotes[0])
        throw RegistryError.mainNotFound(
            "no branch '\(name)' here, neither local nor '\(remote)/\(name)'; fetch it first (git fetch \(remote) \(name):refs/remotes/\(remote)/\(name))")
    }

    /// The commit identity from the environment and Git configuration.
    public func identity() throws -> Identity {
        try repository.identity(environment: environment)
    }

    /// Commits `changes` (paths relative to the registry) on `branch` over `parent`.
    @discardableResult
    func commit(
        _ changes: [String: TreeChange], onBranch branch: String, parent: ObjectID?, newBranch: Bool = false, message: String
    ) throws -> ObjectID {
        var full = [String: TreeChange]()
        for (path, change) in changes { full[prefix + path] = change }
        return try repository.commit(
            changes: full, onBranch: branch, parent: parent, newBranch: newBranch, message: message, identity: try identity())
    }

    /// Runs `attempt` until it lands, retrying when the branch moved under it (another writer won
    /// the compare-and-swap); after `limit` losses, a `branchMoved` error.
    func retrying<T>(branch: String, limit: Int = 30, _ attempt: () throws -> T) throws -> T {
        var delay = 0.005
        for _ in 0..<limit {
            do {
                return try attempt()
            } catch GitError.refMoved {
                Thread.sleep(forTimeInterval: delay * Double.random(in: 0.5...1.5))
                delay = min(delay * 2, 0.2)
            }
        }
        throw RegistryError.branchMoved(shortName(branch))
    }
}

/// `main` for `refs/heads/main`.
public func shortName(_ ref: String) -> String {
    ref.hasPrefix("refs/heads/") ? String(ref.dropFirst("refs/heads/".count)) : ref
}
