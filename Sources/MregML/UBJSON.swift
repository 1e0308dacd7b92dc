import Foundation
import MregCore

/// A reader of Universal Binary JSON (the format of XGBoost's `.ubj` models) into `JSONValue`.
///
/// Big-endian numbers, strongly typed containers (`[$d#L...`) and counted ones are read; every length is
/// checked against the bytes left before anything is allocated, and nesting is limited, so a hostile
/// file is an error, never a crash, a hang or a huge allocation.
struct UBJSONReader: ~Copyable {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos = 0
    let maxDepth: Int

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = ModelLimits.maxNesting) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses one UBJSON document; trailing bytes are refused.
    static func parse(_ data: Data) throws(MLError) -> JSONValue {
        var result: Result<JSONValue, MLError> = .success(.null)
        data.withUnsafeBytes { raw in
            var reader = UBJSONReader(bytes: raw.bindMemory(to: UInt8.self))
            result = Result { () throws(MLError) -> JSONValue in
                let value = try reader.value(depth: 0)
                guard reader.pos == reader.bytes.count else { throw reader.fail("unexpected data after the document") }
                return value
            }
        }
        return try result.get()
    }

    func fail(_ message: String) -> MLError { .invalidModel("not valid UBJSON: \(message) at byte \(pos)") }

    mutating func byte() throws(MLError) -> UInt8 {
        guard pos < bytes.count else { throw fail("unexpected end of data") }
        defer { pos += 1 }
        return bytes[pos]
    }

    /// `n` big-endian bytes as an unsigned integer.
    mutating func bigEndian(_ n: Int) throws(MLError) -> UInt64 {
        guard bytes.count - pos >= n else { throw fail("unexpected end of data") }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(bytes[pos + i]) }
        pos += n
        return v
    }

    /// A scalar of the given type marker, or nil when the marker is not a scalar type.
    mutating func scalar(_ marker: UInt8) throws(MLError) -> JSONValue? {
        switch marker {
        case UInt8(ascii: "Z"): return .null
        case UInt8(ascii: "T"): return .bool(true)
        case UInt8(ascii: "F"): return .bool(false)
        case UInt8(ascii: "i"): return .number(Double(Int8(truncatingIfNeeded: try bigEndian(1))))
        case UInt8(ascii: "U"): return .number(Double(try bigEndian(1)))
        case UInt8(ascii: "I"): return .number(Double(Int16(truncatingIfNeeded: try bigEndian(2))))
        case UInt8(ascii: "l"): return .number(Double(Int32(truncatingIfNeeded: try bigEndian(4))))
        case UInt8(ascii: "L"): return .number(Double(Int64(bitPattern: try bigEndian(8))))
        case UInt8(ascii: "d"): return .number(Double(Float(bitPattern: UInt32(try bigEndian(4)))))
        case UInt8(ascii: "D"): return .number(Double(bitPattern: try bigEndian(8)))
        case UInt8(ascii: "C"): return .string(String(decoding: [try byte()], as: UTF8.self))
        case UInt8(ascii: "S"): return .string(try text())
        case UInt8(ascii: "H"):
            let s = try text()
            guard let d = Double(s) else { throw fail("high-precision number '\(MLError.clip(s))' does not read") }
            return .number(d)
        default: return nil
        }
    }

    /// A length: an integer marker and value, non-negative and at most `unit` bytes each within what is left.
    mutating func length(unit: Int) throws(MLError) -> Int {
        let marker = try byte()
        guard [UInt8(ascii: "i"), UInt8(ascii: "U"), UInt8(ascii: "I"), UInt8(ascii: "l"), UInt8(ascii: "L")].contains(marker),
              case .number(let d) = try scalar(marker) else {
            throw fail("a length must be an integer")
        }
        guard d >= 0 else { throw fail("negative length \(Int64(d))") }
        let left = bytes.count - pos
        guard d <= Double(left / max(unit, 1)) else {
            throw fail("length \(Int64(d)) points past the end of the data (\(left) bytes left)")
        }
        return Int(d)
    }

    mutating func text() throws(MLError) -> String {
        let n = try length(unit: 1)
        defer { pos += n }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[pos..<pos + n]), as: UTF8.self)
    }

    mutating func value(depth: Int) throws(MLError) -> JSONValue {
        var marker = try byte()
        while marker == UInt8(ascii: "N") { marker = try byte() }
        return try value(marker: marker, depth: depth)
    }

    mutating func value(marker: UInt8, depth: Int) throws(MLError) -> JSONValue {
        if let v = try scalar(marker) { return v }
        guard marker == UInt8(ascii: "[") || marker == UInt8(ascii: "{") else {
            throw fail("unknown type marker 0x\(String(marker, radix: 16))")
        }
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        let isObject = marker == UInt8(ascii: "{")
        var type: UInt8? = nil
        var count: Int? = nil
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "$") {
            pos += 1
            type = try byte()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "#") else { throw fail("a typed container needs a count") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "#") {
            pos += 1
            // Each element takes at least its typed size (or one byte); a key takes at least one more.
            let unit = (type.map(Self.size) ?? 1) + (isObject ? 1 : 0)
            count = try length(unit: max(unit, 1))
            // No array of a model this runtime accepts is longer; refusing early bounds memory too.
            guard count! <= ModelLimits.maxTotalNodes else {
                throw fail("a container of \(count!) elements is over the limit of \(ModelLimits.maxTotalNodes)")
            }
        }
        return isObject ? try object(type: type, count: count, depth: depth) : try array(type: type, count: count, depth: depth)
    }

    /// Bytes one element of a typed container takes (0 for types without a payload).
    static func size(_ type: UInt8) -> Int {
        switch type {
        case UInt8(ascii: "i"), UInt8(ascii: "U"), UInt8(ascii: "C"): return 1
        case UInt8(ascii: "I"): return 2
        case UInt8(ascii: "l"), UInt8(ascii: "d"): return 4
        case UInt8(ascii: "L"), UInt8(ascii: "D"): return 8
        default: return 1
        }
    }

    mutating func element(type: UInt8?, depth: Int) throws(MLError) -> JSONValue {
        if let type { return try value(marker: type, depth: depth + 1) }
        return try value(depth: depth + 1)
    }

    mutating func array(type: UInt8?, count: Int?, depth: Int) throws(MLError) -> JSONValue {
        var items = [JSONValue]()
        if let count {
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try element(type: type, depth: depth)) }
            return .array(items)
        }
        while true {
            guard pos < bytes.count else { throw fail("array is never closed") }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            if bytes[pos] == UInt8(ascii: "N") { pos += 1; continue }
            items.append(try value(depth: depth + 1))
        }
    }

    mutating func object(type: UInt8?, count: Int?, depth: Int) throws(MLError) -> JSONValue {
        var fields = [String: JSONValue]()
        if let count {
            for _ in 0..<count {
                let key = try text()
                fields[key] = try element(type: type, depth: depth)
            }
            return .object(fields)
        }
        while true {
            guard pos < bytes.count else { throw fail("object is never closed") }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(fields) }
            if bytes[pos] == UInt8(ascii: "N") { pos += 1; continue }
            let key = try text()
            fields[key] = try value(depth: depth + 1)
        }
    }
}
