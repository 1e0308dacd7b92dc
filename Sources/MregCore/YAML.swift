import Foundation
import Yams

/// Reading and writing the YAML files people edit (`mreg.yaml`, `model.yaml`, `deploy/*.yaml`, ...).
///
/// Reading turns a document into a `JSONValue` (so one strict reader, `Fields`, serves YAML and
/// JSON alike); writing is our own emitter, so the text is stable and numbers keep their plain form.
public enum YAML {
    /// The largest YAML file mreg reads; registry files are small, so anything bigger is a mistake or an attack.
    public static let maxSize = 4 << 20

    /// Parses one YAML document. An empty document is an empty mapping.
    public static func parse(_ data: Data, file: String) throws(CoreError) -> JSONValue {
        guard data.count <= maxSize else { throw CoreError.invalidFile(file: file, message: "larger than \(maxSize) bytes") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CoreError.invalidFile(file: file, message: "not valid UTF-8")
        }
        return try parse(text, file: file)
    }

    /// Parses one YAML document held in a string.
    public static func parse(_ text: String, file: String) throws(CoreError) -> JSONValue {
        guard text.utf8.count <= maxSize else { throw CoreError.invalidFile(file: file, message: "larger than \(maxSize) bytes") }
        if let fast = FastYAML.parse(text) { return fast }
        return try parseWithYams(text, file: file)
    }

    /// The full YAML path (Yams), for documents the fast reader leaves alone.
    static func parseWithYams(_ text: String, file: String) throws(CoreError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid YAML"
            throw CoreError.invalidFile(file: file, message: "invalid YAML: \(message)")
        }
        guard let node else { return .object([:]) }
        var budget = 200_000
        return try convert(node, file: file, path: "", budget: &budget)
    }

    private static func convert(_ node: Node, file: String, path: String, budget: inout Int) throws(CoreError) -> JSONValue {
        budget -= 1
        guard budget > 0 else { throw CoreError.invalidFile(file: file, message: "too many YAML nodes (aliases expanding?)") }
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .number(Double(i)) }
            if let d = node.float {
                guard d.isFinite else {
                    throw CoreError.invalidField(file: file, field: path.isEmpty ? "(top)" : path, message: "must be a finite number")
                }
                return .number(d)
            }
            return .string(scalar.string)
        case .mapping(let mapping):
            var out = [String: JSONValue]()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw CoreError.invalidFile(file: file, message: "mapping keys must be plain strings at '\(path)'")
                }
                let key = keyScalar.string
                let child = path.isEmpty ? key : path + "." + key
                if out[key] != nil { throw CoreError.invalidField(file: file, field: child, message: "appears twice") }
                out[key] = try convert(valueNode, file: file, path: child, budget: &budget)
            }
            return .object(out)
        case .sequence(let sequence):
            var out = [JSONValue]()
            for (i, item) in sequence.enumerated() {
                out.append(try convert(item, file: file, path: "\(path)[\(i)]", budget: &budget))
            }
            return .array(out)
        case .alias:
            throw CoreError.invalidFile(file: file, message: "YAML aliases are not supported at '\(path)'")
        }
    }
}

/// An ordered YAML document to write: mappings keep the order they are given in.
public indirect enum YAMLNode: Sendable, Equatable {
    case value(JSONValue)
    case map([(String, YAMLNode)])
    case list([YAMLNode])

    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool { lhs.render() == rhs.render() }

    public static func string(_ s: String) -> YAMLNode { .value(.string(s)) }
    public static func number(_ d: Double) -> YAMLNode { .value(.number(d)) }
    public static func int(_ i: Int) -> YAMLNode { .value(.number(Double(i))) }
    public static func bool(_ b: Bool) -> YAMLNode { .value(.bool(b)) }
    public static let null = YAMLNode.value(.null)

    /// A mapping from a JSON value, keys sorted: for free-form maps such as parameters.
    public static func from(_ value: JSONValue) -> YAMLNode {
        switch value {
        case .object(let fields):
            return .map(fields.keys.sorted().map { ($0, from(fields[$0]!)) })
        case .array(let items):
            return .list(items.map(from))
        default:
            return .value(value)
        }
    }

    /// The YAML text, block style, two-space indentation, ending in a newline.
    public func render() -> String {
        var out = ""
        switch self {
        case .map(let pairs) where !pairs.isEmpty:
            YAMLNode.renderMap(pairs, indent: 0, into: &out)
        case .list(let items) where !items.isEmpty:
            YAMLNode.renderList(items, indent: 0, into: &out)
        default:
            out = YAMLNode.inline(self) + "\n"
        }
        return out
    }

    private static func inline(_ node: YAMLNode) -> String {
        switch node {
        case .value(let v): return scalar(v)
        case .map: return "{}"
        case .list: return "[]"
        }
    }

    private static func isEmptyCollection(_ node: YAMLNode) -> Bool {
        switch node {
        case .value: return true
        case .map(let p): return p.isEmpty
        case .list(let l): return l.isEmpty
        }
    }

    private static func renderMap(_ pairs: [(String, YAMLNode)], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for (key, value) in pairs {
            out += pad + quoteIfNeeded(key) + ":"
            if isEmptyCollection(value) {
                out += " " + inline(value) + "\n"
            } else if case .map(let inner) = value {
                out += "\n"
                renderMap(inner, indent: indent + 2, into: &out)
            } else if case .list(let items) = value {
                out += "\n"
                renderList(items, indent: indent + 2, into: &out)
            }
        }
    }

    private static func renderList(_ items: [YAMLNode], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            if isEmptyCollection(item) {
                out += pad + "- " + inline(item) + "\n"
            } else if case .map(let inner) = item {
                var nested = ""
                renderMap(inner, indent: indent + 2, into: &nested)
                // The first key goes on the dash line.
                out += pad + "- " + nested.dropFirst(indent + 2)
            } else if case .list(let inner) = item {
                out += pad + "-\n"
                renderList(inner, indent: indent + 2, into: &out)
            }
        }
    }

    /// A scalar as YAML text: strings stay plain only when YAML would read them back unchanged.
    public static func scalar(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return JSONValue.format(d)
        case .string(let s): return quoteIfNeeded(s)
        case .array, .object: return value.encodedString()
        }
    }

    private static let reserved: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", "nan", ".nan", "inf", ".inf", "-.inf", "+.inf",
    ]

    static func quoteIfNeeded(_ s: String) -> String {
        var plain = !s.isEmpty && !reserved.contains(s.lowercased())
        if plain, let first = s.unicodeScalars.first {
            plain = CharacterSet.letters.contains(first) || first == "_" || first == "/" || first == "."
                || (CharacterSet.decimalDigits.contains(first) && Double(s) == nil && !looksLikeDateOrNumber(s))
        }
        if plain {
            for u in s.unicodeScalars {
                let ok = CharacterSet.alphanumerics.contains(u) || " _-./@<>()+,=%".unicodeScalars.contains(u)
                if !ok || u.value > 0x7E && !CharacterSet.letters.contains(u) {
                    plain = false
                    break
                }
            }
        }
        if plain && (s.hasSuffix(" ") || s.contains(" #") || s.contains(": ") || s.hasSuffix(":")) { plain = false }
        if plain { return s }
        var out: [UInt8] = []
        JSONValue.writeString(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func looksLikeDateOrNumber(_ s: String) -> Bool {
        s.allSatisfy { $0.isNumber || $0 == "-" || $0 == ":" || $0 == "." || $0 == "_" || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "T" || $0 == "Z" }
    }
}
