import Foundation
import MregCore
import MregGit

/// What each commit of a first-parent chain changed in the registry, one level deep: which model
/// folders, whether `deploy/` or `mreg.yaml`. Derived from Git alone and keyed by commit id, so it
/// never goes stale; kept in `<git dir>/mreg/changes-<prefix hash>` so that `mreg history` on a
/// registry of ten thousand commits reads a small file instead of ten thousand trees. The file ends
/// with the SHA-256 of everything before it; a missing, foreign, damaged (a single flipped bit) or
/// non-regular file is never believed, only rebuilt.
final class ChangeIndex {
    struct Record {
        var parent: ObjectID?
        /// Names of model folders whose tree differs from the parent's.
        var models: [String]
        var deploy: Bool
        var config: Bool
    }

    private let repository: Repository
    private let prefix: String
    private let path: String
    private var records = [ObjectID: Record]()
    private var dirty = false
    private static let magic = Array("MREGCHG2".utf8)

    init(repository: Repository, prefix: String) {
        self.repository = repository
        self.prefix = prefix
        path = repository.gitDir + "mreg/changes-" + String(SHA256.hex(Data(prefix.utf8)).prefix(12))
        load()
    }

    /// The first-parent chain from `tip`, newest first, with what each commit changed.
    func chain(from tip: ObjectID) throws -> [(commit: ObjectID, record: Record)] {
        var out = [(commit: ObjectID, record: Record)]()
        try walk(from: tip) { commit, record in
            out.append((commit, record))
            return true
        }
        return out
    }

    /// Walks the first-parent chain from `tip`, newest first, until `body` returns false; records
    /// computed on the way are saved.
    func walk(from tip: ObjectID, _ body: (ObjectID, Record) throws -> Bool) throws {
        defer { save() }
        var current: ObjectID? = tip
        while let id = current {
            let record = try self.record(id)
            guard try body(id, record) else { return }
            current = record.parent
        }
    }

    private func record(_ id: ObjectID) throws -> Record {
        if let r = records[id] { return r }
        let parent = try repository.firstParent(ofCommit: id)
        let mine = try registryTree(id)
        let theirs = try parent.map { try registryTree($0) } ?? nil
        var record = Record(parent: parent, models: [], deploy: false, config: false)
        if mine != theirs {
            let a = try entries(theirs), b = try entries(mine)
            record.deploy = a["deploy"]?.id != b["deploy"]?.id
            record.config = a[RegistryConfig.fileName]?.id != b[RegistryConfig.fileName]?.id
            if a["models"]?.id != b["models"]?.id {
                let ma = try entries(a["models"]?.kind == .tree ? a["models"]?.id : nil)
                let mb = try entries(b["models"]?.kind == .tree ? b["models"]?.id : nil)
                for name in Set(ma.keys).union(mb.keys).sorted() where ma[name]?.id != mb[name]?.id {
                    record.models.append(name)
                }
            }
        }
        records[id] = record
        dirty = true
        return record
    }

    private func registryTree(_ commit: ObjectID) throws -> ObjectID? {
        let root = try repository.treeID(ofCommit: commit)
        if prefix.isEmpty { return root }
        let entry = try repository.entry(at: String(prefix.dropLast()), inTree: root)
        return entry?.kind == .tree ? entry?.id : nil
    }

    private func entries(_ tree: ObjectID?) throws -> [String: TreeEntry] {
        guard let tree else { return [:] }
        var out = [String: TreeEntry]()
        for e in try repository.entries(ofTree: tree) { out[e.name] = e }
        return out
    }

    // MARK: - The file: magic, then per commit: id(20) flags(1) [parent(20)] count(2) (len(1) name)*,
    // then the Checksum64 (8 bytes, little-endian) of all that

    private func load() {
        guard let file = CacheFile.read(path), file.count >= 8 + 8 else { return }
        let body = file[..<(file.count - 8)]
        guard ChangeIndex.trailer(body)[...] == file[(file.count - 8)...] else { return }
        Array(body).withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard Array(bytes[0..<8]) == ChangeIndex.magic else { return }
            var i = 8
            var loaded = [ObjectID: Record]()
            loaded.reserveCapacity(bytes.count / 44)
            func id(_ at: Int) -> ObjectID? {
                ObjectID(bytes: UnsafeRawBufferPointer(rebasing: raw[at..<at + 20]))
            }
            while i < bytes.count {
                guard i + 21 <= bytes.count, let commit = id(i) else { return }
                let flags = bytes[i + 20]
                i += 21
                var parent: ObjectID?
                if flags & 1 != 0 {
                    guard i + 20 <= bytes.count else { return }
                    parent = id(i)
                    i += 20
                }
                guard i + 2 <= bytes.count else { return }
                let count = Int(bytes[i]) << 8 | Int(bytes[i + 1])
                i += 2
                var models = [String]()
                for _ in 0..<count {
                    guard i < bytes.count else { return }
                    let n = Int(bytes[i])
                    guard i + 1 + n <= bytes.count else { return }
                    models.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[i + 1..<i + 1 + n]), as: UTF8.self))
                    i += 1 + n
                }
                loaded[commit] = Record(parent: parent, models: models, deploy: flags & 2 != 0, config: flags & 4 != 0)
            }
            records = loaded
        }
    }

    /// The 8 bytes that end the file: the checksum of everything before them.
    static func trailer(_ body: ArraySlice<UInt8>) -> [UInt8] {
        withUnsafeBytes(of: Checksum64.of(body).littleEndian) { Array($0) }
    }

    private func save() {
        guard dirty else { return }
        var out = ChangeIndex.magic
        out.reserveCapacity(records.count * 48)
        for (commit, r) in records {
            out.append(contentsOf: commit.bytes)
            out.append((r.parent != nil ? 1 : 0) | (r.deploy ? 2 : 0) | (r.config ? 4 : 0))
            if let p = r.parent { out.append(contentsOf: p.bytes) }
            let names = r.models.filter { $0.utf8.count < 256 }.prefix(65535)
            out.append(UInt8(names.count >> 8))
            out.append(UInt8(names.count & 0xFF))
            for name in names {
                out.append(UInt8(name.utf8.count))
                out.append(contentsOf: Array(name.utf8))
            }
        }
        out.append(contentsOf: ChangeIndex.trailer(out[...]))
        CacheFile.replace(path, with: out)
        dirty = false
    }
}
