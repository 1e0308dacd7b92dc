/// A fast reader for the plain block-style YAML that mreg writes and people usually edit:
/// block mappings and sequences, one-line flow collections, quoted and simple plain scalars,
/// comments. It answers nil for anything else (anchors, block scalars, multi-line scalars,
/// tabs, odd numbers such as `0x1F` or `1_000`, timestamps, duplicate keys, bad indentation),
/// and the caller then asks Yams, which stays the authority on YAML and on error messages.
/// Where it answers, it gives exactly what the Yams path gives (a test holds the two together).
struct FastYAML {
    private struct Line {
        var indent: Int
        var text: Substring
    }

    private var lines: [Line] = []

    /// The document as a value, or nil when it needs the full YAML parser.
    static func parse(_ text: String) -> JSONValue? {
        var reader = FastYAML()
        guard reader.split(text) else { return nil }
        if reader.lines.isEmpty { return .object([:]) }
        guard reader.lines[0].indent == 0 else { return nil }
        var index = 0
        guard let value = reader.block(&index, indent: 0), index == reader.lines.count else { return nil }
        return value
    }

    /// Splits into non-empty lines with comments removed; false for tabs, directives, document
    /// markers and other things left to Yams.
    private mutating func split(_ text: String) -> Bool {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = raw
            if line.last == "\r" { line = line.dropLast() }
            var indent = 0
            var rest = line[...]
            while rest.first == " " {
                indent += 1
                rest = rest.dropFirst()
            }
            if rest.first == "\t" { return false }
            guard let stripped = FastYAML.stripComment(rest) else { return false }
            var content = stripped
            while content.last == " " { content = content.dropLast() }
            if content.isEmpty { continue }
            if indent == 0 && (content.hasPrefix("---") || content.hasPrefix("...") || content.hasPrefix("%")) { return false }
            if content.contains("\t") { return false }
            lines.append(Line(indent: indent, text: content))
        }
        return true
    }

    /// The line without its comment; nil when quotes do not close on the line.
    private static func stripComment(_ s: Substring) -> Substring? {
        let u = s.utf8
        var quote: UInt8 = 0
        var previous: UInt8 = 0x20
        var i = u.startIndex
        while i < u.endIndex {
            let c = u[i]
            if quote != 0 {
                if c == 0x5C && quote == 0x22 {
                    i = u.index(after: i)
                    guard i < u.endIndex else { return nil }
                } else if c == quote {
                    let next = u.index(after: i)
                    if quote == 0x27, next < u.endIndex, u[next] == 0x27 {
                        i = next
                    } else {
                        quote = 0
                    }
                }
            } else if c == 0x23 && (previous == 0x20 || i == u.startIndex) {
                return s[s.startIndex..<i]
            } else if (c == 0x22 || c == 0x27)
                && (previous == 0x20 || previous == 0x5B || previous == 0x7B || previous == 0x2C || previous == 0x3A || i == u.startIndex)
            {
                quote = c
            }
            previous = c
            i = u.index(after: i)
        }
        return quote == 0 ? s : nil
    }

    private func block(_ index: inout Int, indent: Int) -> JSONValue? {
        guard index < lines.count, lines[index].indent == indent else { return nil }
        if isDash(lines[index].text) { return sequence(&index, indent: indent) }
        return mapping(&index, indent: indent, first: nil)
    }

    private func isDash(_ text: Substring) -> Bool { text == "-" || text.hasPrefix("- ") }

    private func sequence(_ index: inout Int, indent: Int) -> JSONValue? {
        var items = [JSONValue]()
        while index < lines.count, lines[index].indent == indent, isDash(lines[index].text) {
            let text = lines[index].text
            var item = text.dropFirst()
            var column = indent + 1
            while item.first == " " {
                item = item.dropFirst()
                column += 1
            }
            index += 1
            if item.isEmpty {
                if index < lines.count, lines[index].indent > indent {
                    guard let nested = block(&index, indent: lines[index].indent) else { return nil }
                    items.append(nested)
                } else {
                    items.append(.null)
                }
            } else if isDash(item) {
                return nil  // "- - x": nested sequences on one line
            } else if let (key, rest) = FastYAML.splitKey(item) {
                guard let value = mapping(&index, indent: column, first: (key, rest)) else { return nil }
                items.append(value)
            } else {
                guard let value = FastYAML.inlineValue(item) else { return nil }
                items.append(value)
            }
        }
        return .array(items)
    }

    /// A block mapping at `indent`; `first` is a key already read from a `- key: value` line.
    private func mapping(_ index: inout Int, indent: Int, first: (String, Substring)?) -> JSONValue? {
        var fields = [String: JSONValue]()
        var pending = first
        while true {
            let key: String
            let rest: Substring
            if let p = pending {
                (key, rest) = p
                pending = nil
            } else {
                guard index < lines.count, lines[index].indent == indent, !isDash(lines[index].text),
                    let kv = FastYAML.splitKey(lines[index].text)
                else { break }
                (key, rest) = kv
                index += 1
            }
            guard fields[key] == nil else { return nil }
            if rest.isEmpty {
                if index < lines.count, lines[index].indent > indent {
                    guard let nested = block(&index, indent: lines[index].indent) else { return nil }
                    fields[key] = nested
                } else if index < lines.count, lines[index].indent == indent, isDash(lines[index].text) {
                    guard let nested = sequence(&index, indent: indent) else { return nil }
                    fields[key] = nested
                } else {
                    fields[key] = .null
                }
            } else {
                guard let value = FastYAML.inlineValue(rest) else { return nil }
                fields[key] = value
            }
        }
        if index < lines.count, lines[index].indent > indent { return nil }
        return .object(fields)
    }

    /// `key: rest` with a plain or quoted key; nil when the line is not a mapping entry.
    private static func splitKey(_ text: Substring) -> (String, Substring)? {
        if text.first == "\"" || text.first == "'" {
            var cursor = text[...]
            guard let key = quoted(&cursor), cursor.first == ":" else { return nil }
            let rest = cursor.dropFirst()
            guard rest.isEmpty || rest.first == " " else { return nil }
            return (key, rest.drop(while: { $0 == " " }))
        }
        let u = text.utf8
        var i = u.startIndex
        while i < u.endIndex {
            if u[i] == 0x3A {
                let next = u.index(after: i)
                if next == u.endIndex || u[next] == 0x20 {
                    let key = text[text.startIndex..<i]
                    guard isSimpleKey(key) else { return nil }
                    var rest = text[next...]
                    while rest.utf8.first == 0x20 { rest = rest.dropFirst() }
                    return (String(key), rest)
                }
            }
            i = u.index(after: i)
        }
        return nil
    }

    /// Keys that read back as the same plain string: ASCII letters, digits and `_ . / -`, not
    /// starting with a digit or `-`, and not a YAML null or boolean word.
    private static func isSimpleKey(_ key: Substring) -> Bool {
        let u = key.utf8
        guard let first = u.first else { return false }
        let isLetter = (first >= 0x61 && first <= 0x7A) || (first >= 0x41 && first <= 0x5A)
        guard isLetter || first == 0x5F || first == 0x2E || first == 0x2F else { return false }
        for b in u {
            let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
                || b == 0x5F || b == 0x2E || b == 0x2F || b == 0x2D
            if !ok { return false }
        }
        if u.count <= 5 && (nulls.contains(key) || trues.contains(key) || falses.contains(key)) { return false }
        return !(first == 0x2E && key.count > 1 && (key.dropFirst().lowercased() == "inf" || key.dropFirst().lowercased() == "nan"))
    }

    /// A value written on the rest of a line: a flow collection, a quoted or a plain scalar.
    private static func inlineValue(_ text: Substring) -> JSONValue? {
        var cursor = text[...]
        if text.first == "[" || text.first == "{" {
            guard let value = flow(&cursor, depth: 0) else { return nil }
            cursor = cursor.drop(while: { $0 == " " })
            return cursor.isEmpty ? value : nil
        }
        if text.first == "\"" || text.first == "'" {
            guard let s = quoted(&cursor), cursor.allSatisfy({ $0 == " " }) else { return nil }
            return .string(s)
        }
        var previous: UInt8 = 0
        for b in text.utf8 {
            if previous == 0x3A && b == 0x20 { return nil }
            previous = b
        }
        return plainScalar(text)
    }

    private static func flow(_ cursor: inout Substring, depth: Int) -> JSONValue? {
        guard depth < 64, let open = cursor.first else { return nil }
        let close: Character = open == "[" ? "]" : "}"
        cursor = cursor.dropFirst()
        var items = [JSONValue]()
        var fields = [String: JSONValue]()
        func skip() { cursor = cursor.drop(while: { $0 == " " }) }
        skip()
        if cursor.first == close {
            cursor = cursor.dropFirst()
            return open == "[" ? .array(items) : .object(fields)
        }
        while true {
            skip()
            if open == "{" {
                let key: String
                if cursor.first == "\"" || cursor.first == "'" {
                    guard let k = quoted(&cursor) else { return nil }
                    key = k
                } else {
                    let raw = cursor.prefix(while: { $0 != ":" && $0 != "," && $0 != "}" && $0 != "[" && $0 != "{" })
                    guard isSimpleKey(raw) else { return nil }
                    key = String(raw)
                    cursor = cursor.dropFirst(raw.count)
                }
                guard cursor.first == ":" else { return nil }
                cursor = cursor.dropFirst()
                guard cursor.first == " " else { return nil }
                skip()
                guard fields[key] == nil, let value = flowItem(&cursor, depth: depth) else { return nil }
                fields[key] = value
            } else {
                guard let value = flowItem(&cursor, depth: depth) else { return nil }
                items.append(value)
            }
            skip()
            guard let c = cursor.first else { return nil }
            cursor = cursor.dropFirst()
            if c == close { return open == "[" ? .array(items) : .object(fields) }
            guard c == "," else { return nil }
        }
    }

    private static func flowItem(_ cursor: inout Substring, depth: Int) -> JSONValue? {
        switch cursor.first {
        case "[", "{": return flow(&cursor, depth: depth + 1)
        case "\"", "'":
            guard let s = quoted(&cursor) else { return nil }
            return .string(s)
        default:
            var raw = cursor.prefix(while: { $0 != "," && $0 != "]" && $0 != "}" })
            cursor = cursor.dropFirst(raw.count)
            while raw.last == " " { raw = raw.dropLast() }
            guard !raw.contains(":"), !raw.contains("["), !raw.contains("{"), !raw.isEmpty else { return nil }
            return plainScalar(raw)
        }
    }

    /// A quoted scalar at the cursor, which moves past it; nil for escapes left to Yams.
    private static func quoted(_ cursor: inout Substring) -> String? {
        guard let q = cursor.first else { return nil }
        var out = ""
        var i = cursor.index(after: cursor.startIndex)
        while i < cursor.endIndex {
            let c = cursor[i]
            if q == "'" {
                if c == "'" {
                    let next = cursor.index(after: i)
                    if next < cursor.endIndex, cursor[next] == "'" {
                        out.append("'")
                        i = cursor.index(after: next)
                        continue
                    }
                    cursor = cursor[next...]
                    return out
                }
                out.append(c)
            } else {
                if c == "\"" {
                    cursor = cursor[cursor.index(after: i)...]
                    return out
                }
                if c == "\\" {
                    i = cursor.index(after: i)
                    guard i < cursor.endIndex else { return nil }
                    switch cursor[i] {
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "/": out.append("/")
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "u":
                        let start = cursor.index(after: i)
                        guard let end = cursor.index(start, offsetBy: 4, limitedBy: cursor.endIndex),
                            let code = UInt32(cursor[start..<end], radix: 16), let scalar = Unicode.Scalar(code)
                        else { return nil }
                        out.unicodeScalars.append(scalar)
                        i = cursor.index(before: end)
                    default: return nil
                    }
                } else {
                    out.append(c)
                }
            }
            i = cursor.index(after: i)
        }
        return nil
    }

    private static let nulls: Set<Substring> = ["", "~", "null", "Null", "NULL"]
    private static let trues: Set<Substring> = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"]
    private static let falses: Set<Substring> = ["false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"]

    /// A plain scalar resolved like Yams does, for the forms this reader is sure of; nil otherwise.
    private static func plainScalar(_ text: Substring) -> JSONValue? {
        if nulls.contains(text) { return .null }
        if trues.contains(text) { return .bool(true) }
        if falses.contains(text) { return .bool(false) }
        guard let first = text.unicodeScalars.first else { return nil }
        if first.properties.isAlphabetic || first == "_" || first == "/" {
            var previous: UInt8 = 0
            for b in text.utf8 {
                if previous == 0x20 && b == 0x23 { return nil }
                previous = b
            }
            if previous == 0x3A { return nil }
            return .string(String(text))
        }
        // Numbers: only the plain decimal forms; anything else (0x, 0o, 1_000, 1:30, .5, dates) goes to Yams.
        let bytes = Array(text.utf8)
        var i = 0
        if bytes[0] == UInt8(ascii: "-") { i = 1 }
        let digitsStart = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        let intDigits = i - digitsStart
        guard intDigits > 0 else { return nil }
        if i == bytes.count {
            guard intDigits <= 15, intDigits == 1 || bytes[digitsStart] != 0x30 else { return nil }
            return Double(String(text)).map { .number($0 == 0 ? 0 : $0) }
        }
        guard intDigits == 1 || bytes[digitsStart] != 0x30 else { return nil }
        if bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fracStart = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            guard i > fracStart else { return nil }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            let expStart = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            guard i > expStart else { return nil }
        }
        guard i == bytes.count, let d = Double(String(text)), d.isFinite else { return nil }
        return .number(d)
    }
}
