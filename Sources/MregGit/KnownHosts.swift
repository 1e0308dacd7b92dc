import Foundation

/// An OpenSSH `known_hosts` file read for the plain entries in it.
///
/// Hashed host names (`|1|...`), wildcards and `@cert-authority` lines are skipped: those need
/// `~/.ssh/known_hosts`, which libgit2 checks itself. A matching `@revoked` line wins over any match.
struct KnownHosts {
    struct Entry {
        var patterns: [String]
        var key: Data
        var revoked: Bool
    }

    var entries = [Entry]()

    init(path: String) {
        self.init(text: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    init(text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var revoked = false
            if first.hasPrefix("@") {
                guard first == "@revoked" else { continue }
                revoked = true
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { continue }
            let patterns = fields[0].split(separator: ",").map(String.init)
                .filter { !$0.hasPrefix("|") && !$0.contains("*") && !$0.contains("?") && !$0.hasPrefix("!") }
            entries.append(Entry(patterns: patterns, key: key, revoked: revoked))
        }
    }

    /// True when an entry for `host` (on `port`, 22 when nil) carries exactly `key` and none revokes it.
    func trusts(host: String, port: Int?, key: Data) -> Bool {
        let name = (port == nil || port == 22) ? host : "[\(host)]:\(port!)"
        let matching = entries.filter { $0.patterns.contains(name) && $0.key == key }
        return !matching.isEmpty && !matching.contains(where: \.revoked)
    }
}
