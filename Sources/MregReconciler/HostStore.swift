import Foundation
import MregCore
#if canImport(Glibc)
import Glibc
#endif

/// The record mreg leaves in every version folder it materialized: `STORE/MODEL/VERSION/.mreg-version`.
/// Only folders holding one are ever replaced or removed by the reconciler.
public struct VersionMarker: Sendable, Equatable {
    public static let fileName = ".mreg-version"
    public var model: String
    public var version: String
    /// The commit the files came from.
    public var commit: String
    public var files: [VersionFile]

    var json: JSONValue {
        [
            "schema": 1, "model": .string(model), "version": .string(version), "commit": .string(commit),
            "files": .array(files.map { ["path": .string($0.path), "size": .number(Double($0.size)), "sha256": .string($0.sha256)] }),
        ]
    }

    init(model: String, version: String, commit: String, files: [VersionFile]) {
        self.model = model
        self.version = version
        self.commit = commit
        self.files = files
    }

    init?(json: JSONValue) {
        guard json["schema"]?.intValue == 1, let m = json["model"]?.stringValue, let v = json["version"]?.stringValue,
              let c = json["commit"]?.stringValue, let list = json["files"]?.arrayValue else { return nil }
        var files = [VersionFile]()
        for f in list {
            guard let p = f["path"]?.stringValue, let s = f["size"]?.intValue, let h = f["sha256"]?.stringValue else { return nil }
            files.append(VersionFile(path: p, size: s, sha256: h))
        }
        self.init(model: m, version: v, commit: c, files: files)
    }
}

/// A store folder problem: the path and what failed.
public struct StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    /// The host's fault, not the commit's (a full disk, an I/O error, too many open files): the
    /// pass is retried with backoff rather than the commit refused for good.
    public var transient = false
    public var description: String { "'\(path)': \(reason)" }

    /// Whether a failed system call's `errno` is a passing condition of the host.
    static func isTransient(_ code: Int32) -> Bool {
        [ENOSPC, EDQUOT, EIO, EMFILE, ENFILE, ENOMEM, EAGAIN, EINTR, EBUSY].contains(code)
    }
}

/// What a version folder in the store looks like compared with the registry.
public enum FolderCheck: Sendable, Equatable {
    /// Every file is there with the registry's size and sha256.
    case intact
    case missing
    /// Placed by mreg, then changed: the first difference.
    case damaged(String)
    /// Not placed by mreg (no marker): never touched.
    case foreign
}

/// The serving host's store as the reconciler sees it: version folders it materializes atomically
/// (stage, verify, fsync, rename) and checks on every pass, and the reconciler's own `.mreg/` folder.
public final class HostStore: @unchecked Sendable {
    public let root: String
    let fm = FileManager.default
    /// sha256 of files already checked, keyed by path and validated by inode, size, mtime and ctime.
    private var hashCache = [String: (stamp: FileStamp, sha256: String)]()
    private let lock = NSLock()

    public init(root: String) throws(StoreError) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        do {
            try fm.createDirectory(atPath: r + "/.mreg", withIntermediateDirectories: true)
        } catch {
            throw StoreError(path: r, reason: "cannot create the store: \(error.localizedDescription)")
        }
    }

    public var controlDirectory: String { root + "/.mreg" }
    func modelPath(_ model: String) -> String { root + "/" + model }
    public func versionPath(_ model: String, _ version: String) -> String { root + "/" + model + "/" + version }

    /// Removes staging folders a crash may have left (`STORE/.staging-*`, `STORE/.trash-*`).
    @discardableResult
    public func cleanLeftovers() -> [String] {
        let names = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        var removed = [String]()
        for name in names where name.hasPrefix(".staging-") || name.hasPrefix(".trash-") {
            try? fm.removeItem(atPath: root + "/" + name)
            removed.append(name)
        }
        if !removed.isEmpty { syncDirectory(root) }
        return removed.sorted()
    }

    // MARK: Reading

    /// The marker of a version folder, nil when absent or unreadable.
    public func marker(_ model: String, _ version: String) -> VersionMarker? {
        guard let data = fm.contents(atPath: versionPath(model, version) + "/" + VersionMarker.fileName),
              let json = try? JSONValue.parse(data) else { return nil }
        return VersionMarker(json: json)
    }

    /// Every version folder mreg placed in the store, as `model -> versions`.
    public func managedVersions() -> [String: Set<String>] {
        var out = [String: Set<String>]()
        for model in subfolders(root) where Names.isValidModelName(model) {
            for version in subfolders(modelPath(model)) where Names.versionNumber(version) != nil {
                if fm.fileExists(atPath: versionPath(model, version) + "/" + VersionMarker.fileName) {
                    out[model, default: []].insert(version)
                }
            }
        }
        return out
    }

    /// Compares a version folder with the files the registry lists for it.
    public func check(_ model: String, _ version: String, files: [VersionFile]) -> FolderCheck {
        let dir = versionPath(model, version)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return .missing }
        guard fm.fileExists(atPath: dir + "/" + VersionMarker.fileName) else {
            return checkFiles(dir, files) == nil ? .intact : .foreign
        }
        if let problem = checkFiles(dir, files) { return .damaged(problem) }
        return .intact
    }

    /// The first file that differs from `files`, nil when all match.
    private func checkFiles(_ dir: String, _ files: [VersionFile]) -> String? {
        for file in files {
            let path = dir + "/" + file.path
            guard let stamp = FileStamp(path) else { return "'\(file.path)' is missing" }
            guard stamp.size == file.size else { return "'\(file.path)' has \(stamp.size) bytes, expected \(file.size)" }
            guard let sha = sha256(path, stamp: stamp) else { return "'\(file.path)' cannot be read" }
            guard sha == file.sha256 else { return "'\(file.path)' has sha256 \(sha.prefix(12)), expected \(file.sha256.prefix(12))" }
        }
        return nil
    }

    private func sha256(_ path: String, stamp: FileStamp) -> String? {
        lock.lock()
        let cached = hashCache[path]
        lock.unlock()
        if let cached, cached.stamp == stamp { return cached.sha256 }
        guard let sha = try? SHA256.hex(fileAt: URL(fileURLWithPath: path)) else { return nil }
        lock.lock()
        hashCache[path] = (stamp, sha)
        lock.unlock()
        return sha
    }

    // MARK: Writing

    /// Writes a version into a fresh staging folder, checks every file against its sha256, and
    /// fsyncs files and folders. Returns the staging folder, ready for `install`.
    public func stage(model: String, version: String, commit: String, files: [(VersionFile, Data)], extra: [String: Data]) throws(StoreError) -> String {
        let staging = root + "/.staging-" + UUID().uuidString.lowercased()
        do {
            try writeFolder(staging, model: model, version: version, commit: commit, files: files, extra: extra)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
        return staging
    }

    private func writeFolder(_ staging: String, model: String, version: String, commit: String,
                             files: [(VersionFile, Data)], extra: [String: Data]) throws(StoreError) {
        try makeDirectory(staging)
        var dirs: Set<String> = [staging]
        for (file, data) in files {
            guard data.count == file.size else {
                throw StoreError(path: "\(model)/\(version)/\(file.path)", reason: "has \(data.count) bytes in the commit, version.yaml says \(file.size)")
            }
            let sha = SHA256.hex(data)
            guard sha == file.sha256 else {
                throw StoreError(path: "\(model)/\(version)/\(file.path)", reason: "checksum mismatch: sha256 \(sha.prefix(12)) in the commit, version.yaml says \(file.sha256.prefix(12))")
            }
            let path = staging + "/" + file.path
            let parent = (path as NSString).deletingLastPathComponent
            if !dirs.contains(parent) {
                try makeDirectory(parent)
                dirs.insert(parent)
            }
            try writeFile(path, data)
        }
        for (name, data) in extra { try writeFile(staging + "/" + name, data) }
        // Read back what landed on disk: the check is on the bytes that will be served.
        for (file, _) in files {
            guard let sha = try? SHA256.hex(fileAt: URL(fileURLWithPath: staging + "/" + file.path)), sha == file.sha256 else {
                throw StoreError(path: "\(model)/\(version)/\(file.path)", reason: "checksum mismatch after writing")
            }
        }
        let marker = VersionMarker(model: model, version: version, commit: commit, files: files.map(\.0))
        var bytes = marker.json.encoded(pretty: true)
        bytes.append(0x0A)
        try writeFile(staging + "/" + VersionMarker.fileName, bytes)
        for dir in dirs.sorted(by: { $0.count > $1.count }) { syncDirectory(dir) }
    }

    /// Moves a staged folder to `STORE/MODEL/VERSION`; an existing folder there (damaged) is moved
    /// aside first and removed after. Each step is one rename, so a crash leaves either version.
    public func install(_ staging: String, model: String, version: String) throws(StoreError) {
        let modelDir = modelPath(model)
        if !fm.fileExists(atPath: modelDir) {
            try makeDirectory(modelDir)
            syncDirectory(root)
        }
        let target = versionPath(model, version)
        var trash: String?
        if fm.fileExists(atPath: target) {
            let aside = root + "/.trash-" + UUID().uuidString.lowercased()
            guard rename(target, aside) == 0 else { throw posixError(target, "rename") }
            trash = aside
        }
        guard rename(staging, target) == 0 else { throw posixError(target, "rename") }
        syncDirectory(modelDir)
        syncDirectory(root)
        if let trash { try? fm.removeItem(atPath: trash) }
    }

    /// Removes a version folder mreg placed (refuses one without a marker), and the model folder
    /// when nothing but the server's state file is left in it.
    public func remove(_ model: String, _ version: String) throws(StoreError) {
        let target = versionPath(model, version)
        guard fm.fileExists(atPath: target + "/" + VersionMarker.fileName) else {
            throw StoreError(path: target, reason: "was not placed by mreg; left alone")
        }
        // Renamed out of the way first so the server never sees a half-deleted version.
        let aside = root + "/.trash-" + UUID().uuidString.lowercased()
        guard rename(target, aside) == 0 else { throw posixError(target, "rename") }
        syncDirectory(modelPath(model))
        try? fm.removeItem(atPath: aside)
    }

    /// Removes a model folder that holds no version folders any more (only serving.json and hidden files).
    public func removeModelIfEmpty(_ model: String) {
        let dir = modelPath(model)
        guard let names = try? fm.contentsOfDirectory(atPath: dir) else { return }
        let rest = names.filter { $0 != "serving.json" && !$0.hasPrefix(".") }
        guard rest.isEmpty else { return }
        let aside = root + "/.trash-" + UUID().uuidString.lowercased()
        if rename(dir, aside) == 0 {
            syncDirectory(root)
            try? fm.removeItem(atPath: aside)
        }
    }

    /// Writes a file atomically: a temporary file beside it, fsync, rename, fsync of the folder.
    public func writeAtomically(_ path: String, _ data: Data) throws(StoreError) {
        let temp = path + ".tmp-\(getpid())"
        try writeFile(temp, data)
        guard rename(temp, path) == 0 else {
            let e = posixError(path, "rename")
            unlink(temp)
            throw e
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    // MARK: System calls

    private func makeDirectory(_ path: String) throws(StoreError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw posixError(path, "mkdir") }
    }

    private func writeFile(_ path: String, _ data: Data) throws(StoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw posixError(path, "open") }
        defer { close(fd) }
        var written = 0
        let count = data.count
        while written < count {
            let n = data.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError(path, "write")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw posixError(path, "fsync") }
    }

    func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    private func posixError(_ path: String, _ function: String) -> StoreError {
        let code = errno
        return StoreError(path: path, reason: "\(function) failed: \(String(cString: strerror(code)))", transient: StoreError.isTransient(code))
    }

    private func subfolders(_ path: String) -> [String] {
        guard let names = try? fm.contentsOfDirectory(atPath: path) else { return [] }
        return names.filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: path + "/" + name, isDirectory: &isDir) && isDir.boolValue
        }.sorted()
    }
}

/// What identifies one state of a file's bytes: any write changes the ctime.
struct FileStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int
    var mtime: Int
    var mtimeNanos: Int
    var ctime: Int
    var ctimeNanos: Int

    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int(st.st_size)
        mtime = st.st_mtim.tv_sec
        mtimeNanos = st.st_mtim.tv_nsec
        ctime = st.st_ctim.tv_sec
        ctimeNanos = st.st_ctim.tv_nsec
    }
}
