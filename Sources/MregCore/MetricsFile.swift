import Foundation

/// `metrics.json`: metric values per split (`validation`, `test`, ...), written canonically.
public struct MetricsFile: Sendable, Equatable {
    public static let fileName = "metrics.json"
    public var splits: [String: [String: Double]]

    public init(splits: [String: [String: Double]]) {
        self.splits = splits
    }

    /// The split whose metrics stand for the version: `test`, else `validation`, else the only one.
    public var primary: [String: Double] {
        splits["test"] ?? splits["validation"] ?? (splits.count == 1 ? splits.first!.value : [:])
    }

    /// Reads a stored metrics file (strict: `schemaVersion` and `splits` only).
    public static func parse(_ data: Data, file: String) throws(CoreError) -> MetricsFile {
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch { throw CoreError.invalidFile(file: file, message: "invalid JSON: \(error)") }
        var f = try Fields(value, file: file)
        try f.schemaVersion(1)
        let splits = try readSplits(try f.object("splits"))
        try f.finish()
        return MetricsFile(splits: splits)
    }

    /// Reads metrics handed to `mreg register --metrics` (or written by an external trainer) in
    /// any of three shapes, all stored in the full form: the full form itself (`schemaVersion` and
    /// `splits`); split-keyed (`{"test": {"accuracy": 0.9}, "validation": {...}}`, every value an
    /// object); or flat (`{"accuracy": 0.9}`, every value a number), taken as the `test` split.
    /// A mix of numbers and objects is refused, naming the first field of the other kind.
    public static func parseInput(_ data: Data, file: String) throws(CoreError) -> MetricsFile {
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch { throw CoreError.invalidFile(file: file, message: "invalid JSON: \(error)") }
        if value["schemaVersion"] != nil || value["splits"] != nil { return try parse(data, file: file) }
        guard case .object(let fields) = value, !fields.isEmpty else {
            throw CoreError.invalidFile(file: file, message: "metrics must be a non-empty JSON object")
        }
        var f = try Fields(value, file: file)
        let keys = f.allKeys()
        let objects = keys.filter { if case .object = fields[$0]! { return true } else { return false } }
        if objects.isEmpty {
            var test = [String: Double]()
            var flat = f
            for key in keys {
                try checkMetricName(key, flat)
                test[key] = try flat.double(key)
            }
            return MetricsFile(splits: ["test": test])
        }
        if let odd = keys.first(where: { !objects.contains($0) }) {
            throw f.error(odd, "must be an object of metrics like the other splits ('\(objects[0])'), found \(fields[odd]!.typeName)")
        }
        for key in keys { try checkMetricName(key, f) }
        return MetricsFile(splits: try readSplits(f))
    }

    private static func readSplits(_ section: Fields) throws(CoreError) -> [String: [String: Double]] {
        var section = section
        var splits = [String: [String: Double]]()
        for split in section.allKeys() {
            var m = try section.object(split)
            var values = [String: Double]()
            for key in m.allKeys() {
                try checkMetricName(key, m)
                values[key] = try m.double(key)
            }
            splits[split] = values
        }
        return splits
    }

    private static func checkMetricName(_ key: String, _ f: Fields) throws(CoreError) {
        guard !key.isEmpty, key.utf8.count <= 64,
            key.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E })
        else { throw f.error(key, "is not a valid metric name (a-z 0-9 _ - .)") }
    }

    public var json: JSONValue {
        .object([
            "schemaVersion": 1,
            "splits": .object(splits.mapValues { .object($0.mapValues { JSONValue.number($0) }) }),
        ])
    }

    /// Canonical bytes, pretty-printed so diffs are one metric per line.
    public func encoded() -> Data { json.encoded(pretty: true) }
}
