import Foundation

/// A tensor datatype of the Open Inference Protocol.
enum TensorType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64"
    case bytes = "BYTES"

    var isFloat: Bool { self == .fp16 || self == .fp32 || self == .fp64 }

    /// The integer range of an INT or UINT type, nil for the others.
    var integerRange: ClosedRange<Double>? {
        switch self {
        case .uint8: return 0...255
        case .uint16: return 0...65535
        case .uint32: return 0...4_294_967_295
        case .uint64: return 0...18_446_744_073_709_551_615
        case .int8: return -128...127
        case .int16: return -32768...32767
        case .int32: return -2_147_483_648...2_147_483_647
        case .int64: return -9_223_372_036_854_775_808...9_223_372_036_854_775_807
        default: return nil
        }
    }

    var isNumeric: Bool { isFloat || integerRange != nil }

    /// The datatype spelled by `count` bytes at `p`, without making a string.
    @inline(__always) static func parse(_ p: UnsafePointer<UInt8>, count: Int) -> TensorType? {
        // Names are at most 6 bytes: pack them into an integer and compare once.
        guard count >= 4, count <= 6 else { return nil }
        var key: UInt64 = 0
        for i in 0..<count { key = key << 8 | UInt64(p[i]) }
        return packed[key]
    }

    private static let packed: [UInt64: TensorType] = Dictionary(uniqueKeysWithValues: allCases.map { t in
        (t.rawValue.utf8.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, t)
    })
}

/// The values of a tensor's `data`, flattened row-major; the kind is decided by the first non-null element.
enum TensorData: Sendable {
    /// No element yet, or only nulls (the count).
    case nulls(Int)
    /// Numbers; null elements read as NaN and are counted in `nulls`.
    case numbers([Double], nulls: Int)
    /// Strings; null elements are nil.
    case strings([String?])
    /// Booleans.
    case bools([Bool])

    var count: Int {
        switch self {
        case .nulls(let n): return n
        case .numbers(let v, _): return v.count
        case .strings(let v): return v.count
        case .bools(let v): return v.count
        }
    }
}

/// One input tensor as sent: every field optional until it is checked against the model.
struct InferTensor: Sendable {
    var name: String?
    /// The feature of the model this tensor is named after, found while parsing.
    var feature: Int?
    /// The datatype, or nil with `datatype` set when it is not one the protocol defines.
    var type: TensorType?
    var datatype: String?
    var shape: [Double]?
    var data: TensorData?
}

/// An inference request body (`POST .../infer`), as parsed; not yet checked against a model.
struct InferRequest: Sendable {
    var id: String?
    var inputs: [InferTensor]?
    /// Names of the requested outputs; nil for all.
    var outputs: [String]?
}
