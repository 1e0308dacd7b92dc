import Foundation
import MregCore
import MregGit

/// Summaries derived from immutable Git objects (a model folder's tree, a version folder's tree),
/// kept in `<git dir>/mreg/summaries` so that `list` and `status` on a registry of thousands of
/// versions read one small file instead of hundreds of trees and blobs. Keyed by object id, so an
/// entry can never be stale; a missing or damaged file is rebuilt; never committed.
final class SummaryCache {
    private let path: String
    /// Raw lines by hex id; parsed on first use.
    private var raw = [Substring: Substring]()
    private var parsed = [ObjectID: JSONValue]()
    private var added = [ObjectID: JSONValue]()
    private static let header = "mreg-summaries 1"
    /// Beyond this many entries the file starts over (a cache, not a record).
    private static let limit = 200_000

    init(repository: Repository) {
        path = repository.gitDir + "mreg/summaries"
        load()
    }

    /// The summary of `id`, computed (and remembered) when not known yet.
    func summary(_ id: ObjectID, compute: () throws -> JSONValue) rethrows -> JSONValue {
        if let v = parsed[id] { return v }
        // A line is `ID CHECK JSON`; CHECK (the first 8 hex digits of the JSON's sha256) catches a
        // torn or interleaved write.
        if let line = raw[Substring(id.hex)], line.count > 9, line.dropFirst(8).first == " " {
            let json = line.dropFirst(9)
            if SHA256.hex(Data(json.utf8)).prefix(8) == line.prefix(8), let v = try? JSONValue.parse(String(json)) {
                parsed[id] = v
                return v
            }
        }
        let v = try compute()
        parsed[id] = v
        added[id] = v
        return v
    }

    private func load() {
        guard let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8), text.hasPrefix(SummaryCache.header + "\n")
        else { return }
        for line in text.split(separator: "\n").dropFirst() where line.utf8.count > 41 {
            raw[line.prefix(40)] = line.dropFirst(41)
        }
    }

    /// Appends what was computed (best effort: a read-only repository goes without).
    func save() {
        guard !added.isEmpty else { return }
        let fm = FileManager.default
        try? fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var text = ""
        for (id, v) in added {
            let json = v.encodedString()
            text += id.hex + " " + SHA256.hex(Data(json.utf8)).prefix(8) + " " + json + "\n"
        }
        if raw.count + added.count > SummaryCache.limit || !fm.fileExists(atPath: path) {
            let temp = path + ".tmp-\(getpid())"
            if fm.createFile(atPath: temp, contents: Data((SummaryCache.header + "\n" + text).utf8)), rename(temp, path) != 0 {
                unlink(temp)
            }
        } else {
            // One write with O_APPEND: writers never overwrite each other; a torn line is caught by its check.
            let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            if fd >= 0 {
                let bytes = Array(text.utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        added = [:]
    }
}
