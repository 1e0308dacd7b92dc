import Foundation

/// The `Key: value` trailers of a commit message, as `git interpret-trailers` reads them: the lines
/// of its last paragraph.
public struct Trailers: Sendable, Equatable {
    /// Key and value of each trailer line, in order.
    public var entries: [(key: String, value: String)]

    public init(message: String) {
        let paragraphs = message.split(separator: "\n", omittingEmptySubsequences: false)
            .split(whereSeparator: { $0.trimmingCharacters(in: .whitespaces).isEmpty })
        var out = [(key: String, value: String)]()
        if let last = paragraphs.last {
            for line in last {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon]
                guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { continue }
                out.append((String(key), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        entries = out
    }

    /// The value of the last trailer called `key` (case-insensitive, as Git compares them).
    public subscript(_ key: String) -> String? {
        entries.last { $0.key.lowercased() == key.lowercased() }?.value
    }

    public static func == (a: Trailers, b: Trailers) -> Bool {
        a.entries.map { "\($0.key): \($0.value)" } == b.entries.map { "\($0.key): \($0.value)" }
    }
}
