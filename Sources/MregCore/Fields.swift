/// A strict reader of one object of a registry file: every field read is checked for type, and
/// `finish()` rejects any field that was not read, naming the file and the field.
public struct Fields {
    public let file: String
    public let path: String
    public let values: [String: JSONValue]
    private var seen = Set<String>()

    /// Wraps `value`, which must be an object.
    public init(_ value: JSONValue, file: String, path: String = "") throws(CoreError) {
        guard case .object(let values) = value else {
            if path.isEmpty { throw CoreError.invalidFile(file: file, message: "expected a mapping at the top, found \(value.typeName)") }
            throw CoreError.invalidField(file: file, field: path, message: "must be a mapping, found \(value.typeName)")
        }
        self.file = file
        self.path = path
        self.values = values
    }

    /// The dotted name of a field of this object, as errors show it.
    public func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// An error about the field `key`.
    public func error(_ key: String, _ message: String) -> CoreError {
        .invalidField(file: file, field: name(key), message: message)
    }

    /// The raw value of a field, nil when absent or null.
    public mutating func value(_ key: String) -> JSONValue? {
        seen.insert(key)
        guard let v = values[key], !v.isNull else { return nil }
        return v
    }

    /// True when the field is present (even as null).
    public func has(_ key: String) -> Bool { values[key] != nil }

    public mutating func string(_ key: String) throws(CoreError) -> String {
        guard let s = try optionalString(key) else { throw error(key, "is missing") }
        return s
    }

    public mutating func optionalString(_ key: String) throws(CoreError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw error(key, "must be a string, found \(v.typeName)") }
        return s
    }

    public mutating func double(_ key: String) throws(CoreError) -> Double {
        guard let d = try optionalDouble(key) else { throw error(key, "is missing") }
        return d
    }

    public mutating func optionalDouble(_ key: String) throws(CoreError) -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let d) = v, d.isFinite else { throw error(key, "must be a number, found \(v.typeName)") }
        return d
    }

    public mutating func int(_ key: String) throws(CoreError) -> Int {
        guard let i = try optionalInt(key) else { throw error(key, "is missing") }
        return i
    }

    public mutating func optionalInt(_ key: String) throws(CoreError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw error(key, "must be an integer, found \(v.typeName == "number" ? "a fraction" : v.typeName)") }
        return i
    }

    public mutating func optionalBool(_ key: String) throws(CoreError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw error(key, "must be true or false, found \(v.typeName)") }
        return b
    }

    public mutating func bool(_ key: String, default fallback: Bool) throws(CoreError) -> Bool {
        guard let v = value(key) else { return fallback }
        guard case .bool(let b) = v else { throw error(key, "must be true or false, found \(v.typeName)") }
        return b
    }

    public mutating func stringList(_ key: String) throws(CoreError) -> [String] {
        guard let v = value(key) else { return [] }
        guard case .array(let items) = v else { throw error(key, "must be a list, found \(v.typeName)") }
        var out = [String]()
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else { throw error("\(key)[\(i)]", "must be a string, found \(item.typeName)") }
            out.append(s)
        }
        return out
    }

    /// A nested object, nil when absent.
    public mutating func optionalObject(_ key: String) throws(CoreError) -> Fields? {
        guard let v = value(key) else { return nil }
        return try Fields(v, file: file, path: name(key))
    }

    public mutating func object(_ key: String) throws(CoreError) -> Fields {
        guard let f = try optionalObject(key) else { throw error(key, "is missing") }
        return f
    }

    /// A list of objects, empty when absent.
    public mutating func objectList(_ key: String) throws(CoreError) -> [Fields] {
        guard let v = value(key) else { return [] }
        guard case .array(let items) = v else { throw error(key, "must be a list, found \(v.typeName)") }
        var out = [Fields]()
        for (i, item) in items.enumerated() {
            out.append(try Fields(item, file: file, path: name("\(key)[\(i)]")))
        }
        return out
    }

    /// Reads `schemaVersion` and rejects any other than `supported`.
    public mutating func schemaVersion(_ supported: Int) throws(CoreError) {
        let version = try int("schemaVersion")
        guard version == supported else {
            throw error("schemaVersion", "is \(version), but this mreg reads schemaVersion \(supported)")
        }
    }

    /// Rejects any field that was not read.
    public func finish() throws(CoreError) {
        if let unknown = values.keys.filter({ !seen.contains($0) }).sorted().first {
            throw CoreError.invalidField(file: file, field: name(unknown), message: "is not a known field")
        }
    }

    /// The keys of this object, sorted, marking them all read.
    public mutating func allKeys() -> [String] {
        seen.formUnion(values.keys)
        return values.keys.sorted()
    }
}
