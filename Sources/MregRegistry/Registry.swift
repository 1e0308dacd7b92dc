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

    /// The registry at the tip of the main branch named in `mreg.yaml` (deployments live there);
    /// falls back to the current branch when the main branch does not exist.
    public func main() throws -> Snapshot {
        let current = try head()
        let mainRef = "refs/heads/" + (try current.config()).mainBranch
        guard let tip = try repository.referenceTarget(mainRef), tip != current.commit else { return current }
        let snap = try snapshot(commit: tip)
        return snap.exists ? snap : current
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
