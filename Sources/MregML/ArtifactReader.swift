import Foundation
import MregCore

/// Strict, path-aware reads of a JSON object for validating artifacts: every failure names the field.
struct ArtifactReader {
    let fields: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws(MLError) {
        guard case .object(let fields) = value else {
            throw .invalidModel(path.isEmpty ? "expected a JSON object, got \(value.typeName)" : "field '\(path)' must be an object, got \(value.typeName)")
        }
        self.fields = fields
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Refuses fields outside `allowed`.
    func allow(_ allowed: Set<String>) throws(MLError) {
        for key in fields.keys.sorted(by: utf8Less) where !allowed.contains(key) {
            throw .invalidModel(path.isEmpty ? "unknown field '\(key)'" : "unknown field '\(key)' in '\(path)'")
        }
    }

    func has(_ key: String) -> Bool {
        if let v = fields[key], !v.isNull { return true }
        return false
    }

    func value(_ key: String) throws(MLError) -> JSONValue {
        guard let v = fields[key] else { throw .invalidModel("missing field '\(name(key))'") }
        return v
    }

    func string(_ key: String) throws(MLError) -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw .invalidModel("field '\(name(key))' must be a string, got \(v.typeName)") }
        return s
    }

    func number(_ key: String) throws(MLError) -> Double {
        try Self.number(try value(key), name(key))
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(MLError) -> Int {
        try Self.int(try value(key), name(key), range)
    }

    func object(_ key: String) throws(MLError) -> ArtifactReader {
        try ArtifactReader(try value(key), path: name(key))
    }

    func array(_ key: String, count: Int? = nil) throws(MLError) -> [JSONValue] {
        try Self.array(try value(key), name(key), count: count)
    }

    func objects(_ key: String, count: Int? = nil) throws(MLError) -> [ArtifactReader] {
        var out = [ArtifactReader]()
        for (i, item) in try array(key, count: count).enumerated() {
            out.append(try ArtifactReader(item, path: "\(name(key))[\(i)]"))
        }
        return out
    }

    func strings(_ key: String) throws(MLError) -> [String] {
        var out = [String]()
        for (i, item) in try array(key).enumerated() {
            guard case .string(let s) = item else {
                throw .invalidModel("field '\(name(key))[\(i)]' must be a string, got \(item.typeName)")
            }
            out.append(s)
        }
        return out
    }

    func numbers(_ key: String, count: Int? = nil) throws(MLError) -> [Double] {
        try Self.numbers(try value(key), name(key), count: count)
    }

    func ints(_ key: String, count: Int? = nil, in range: ClosedRange<Int>) throws(MLError) -> [Int] {
        var out = [Int]()
        for (i, item) in try array(key, count: count).enumerated() {
            out.append(try Self.int(item, "\(name(key))[\(i)]", range))
        }
        return out
    }

    /// A `rows x cols` array of arrays, flattened row-major.
    func matrix(_ key: String, rows: Int, cols: Int) throws(MLError) -> [Double] {
        let list = try array(key)
        guard list.count == rows else {
            throw .invalidModel("field '\(name(key))' has \(list.count) rows, expected \(rows)")
        }
        var out = [Double]()
        out.reserveCapacity(rows * cols)
        for (i, row) in list.enumerated() {
            out += try Self.numbers(row, "\(name(key))[\(i)]", count: cols)
        }
        return out
    }

    static func array(_ v: JSONValue, _ name: String, count: Int?) throws(MLError) -> [JSONValue] {
        guard case .array(let items) = v else { throw .invalidModel("field '\(name)' must be an array, got \(v.typeName)") }
        if let count, items.count != count {
            throw .invalidModel("field '\(name)' has \(items.count) values, expected \(count)")
        }
        return items
    }

    static func numbers(_ v: JSONValue, _ name: String, count: Int?) throws(MLError) -> [Double] {
        let items = try array(v, name, count: count)
        var out = [Double]()
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .number(let d) = item, d.isFinite else {
                throw .invalidModel("field '\(name)[\(i)]' must be a finite number, got \(item.typeName)")
            }
            out.append(d)
        }
        return out
    }

    static func number(_ v: JSONValue, _ name: String) throws(MLError) -> Double {
        guard case .number(let d) = v, d.isFinite else {
            throw .invalidModel("field '\(name)' must be a finite number, got \(v.typeName)")
        }
        return d
    }

    static func int(_ v: JSONValue, _ name: String, _ range: ClosedRange<Int>) throws(MLError) -> Int {
        guard let i = v.intValue else { throw .invalidModel("field '\(name)' must be an integer, got \(v.isNull ? "null" : v.encodedString())") }
        guard range.contains(i) else {
            throw .invalidModel("field '\(name)' is \(i), expected \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }
}
