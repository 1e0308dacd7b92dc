import Foundation
import MregCore
import MregGit

/// Summaries derived from immutable Git objects (a model folder's tree, a version folder's tree),
/// kept in `<git dir>/mreg/summaries` so that `list` and `status` on a registry of thousands of
/// versions read one small file instead of hundreds of trees and blobs. Keyed by object id, so an
/// entry can never be stale; a line whose checksum fails, a damaged file or one that is not a
/// regular file is ignored and rebuilt; never committed.
final class SummaryCache {
    private let path: String
    /// Raw lines by hex id; parsed on first use.
    private var raw = [Substring: Substring]()
    private var parsed = [ObjectID: JSONValue]()
    private var added = [ObjectID: JSONValue]()
    /// The file exists with the current header, so new lines can be appended to it.
    private var appendable = false
    private static let header = "mreg-summaries 3"
    /// Beyond this many entries the file starts over (a cache, not a record).
    private static let limit = 200_000

    init(repository: Repository) {
        path = repository.gitDir + "mreg/summaries"
        load()
    }

    /// The summary of `id`, computed (and remembered) when not known yet.
    func summary(_ id: ObjectID, compute: () throws -> JSONValue) rethrows -> JSONValue {
        if let v = parsed[id] { return v }
        // A line is `ID CHECK JSON`; CHECK (8 hex digits of the Checksum64 of `ID JSON`) catches
        // a torn or interleaved write and a flipped bit in the id as well as in the JSON.
        if let line = raw[Substring(id.hex)], line.utf8.count > 9, line.utf8.dropFirst(8).first == 0x20 {
            let json = line.dropFirst(9)
            // A line that fails its check or does not parse is rebuilt: absent and damaged mean the same.
            if SummaryCache.check(id.hex, json) == line.prefix(8), let v = try? JSONValue.parse(String(json)) {
                parsed[id] = v
                return v
            }
        }
        let v = try compute()
        parsed[id] = v
        added[id] = v
        return v
    }

    static func check(_ id: String, _ json: some StringProtocol) -> Substring {
        Checksum64.hex((id + " " + json).utf8).prefix(8)
    }

    private func load() {
        guard let bytes = CacheFile.read(path) else { return }
        // Invalid UTF-8 becomes U+FFFD, so only the lines it touches fail their check.
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix(SummaryCache.header + "\n") else { return }
        appendable = true
        // Lines are split on bytes, not Characters: grapheme breaking over a 2 MB file cost more
        // than all the rest of `mreg list`.
        let u = text.utf8
        var start = u.index(u.startIndex, offsetBy: SummaryCache.header.utf8.count + 1)
        while start < u.endIndex {
            let end = u[start...].firstIndex(of: 0x0A) ?? u.endIndex
            if u.distance(from: start, to: end) > 41 {
                let idEnd = u.index(start, offsetBy: 40)
                // An id is 40 hex digits; anything else (a damaged line) is skipped and rebuilt.
                if u[start..<idEnd].allSatisfy(SummaryCache.isHexDigit), u[idEnd] == 0x20 {
                    raw[Substring(u[start..<idEnd])] = Substring(u[u.index(after: idEnd)..<end])
                }
            }
            start = end == u.endIndex ? end : u.index(after: end)
        }
    }

    private static func isHexDigit(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }

    /// Appends what was computed (best effort: a read-only repository goes without).
    func save() {
        guard !added.isEmpty else { return }
        var text = ""
        for (id, v) in added {
            let json = v.encodedString()
            text += id.hex + " " + SummaryCache.check(id.hex, json) + " " + json + "\n"
        }
        // One write with O_APPEND: writers never overwrite each other; a torn line is caught by its check.
        if raw.count + added.count > SummaryCache.limit || !appendable || !CacheFile.append(path, Array(text.utf8)) {
            CacheFile.replace(path, with: Array((SummaryCache.header + "\n" + text).utf8))
        }
        appendable = true
        added = [:]
    }
}
