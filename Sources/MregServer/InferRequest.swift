import Foundation

/// A tensor datatype of the Open Inference Protocol.
enum TensorType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64"
    case bytes = "BYTES"

    var isFloat: Bool { self == .fp16 || self == .fp32 || self == .fp64 }

    /// The integer range of an INT or UINT type, nil for the others; upper bounds are exclusive powers
    /// of two, which a Double holds exactly.
    var integerRange: Range<Double>? {
        switch self {
        case .uint8: return 0..<0x1p8
        case .uint16: return 0..<0x1p16
        case .uint32: return 0..<0x1p32
        case .uint64: return 0..<0x1p64
        case .int8: return -0x1p7..<0x1p7
        case .int16: return -0x1p15..<0x1p15
        case .int32: return -0x1p31..<0x1p31
        case .int64: return -0x1p63..<0x1p63
        default: return nil
        }
    }

    var isNumeric: Bool { isFloat || integerRange != nil }

    /// The datatype spelled by `count` bytes at `p`, without making a string.
    @inline(__always) static func parse(_ p: UnsafePointer<UInt8>, count: Int) -> TensorType? {
        // Names are 4 to 6 bytes: pack them into an integer and switch on it.
        guard count >= 4, count <= 6 else { return nil }
        var key: UInt64 = 0
        for i in 0..<count { key = key << 8 | UInt64(p[i]) }
        switch key {
        case 0x4650_3634: return .fp64  // FP64
        case 0x4650_3332: return .fp32
        case 0x4650_3136: return .fp16
        case 0x4259_5445_53: return .bytes  // BYTES
        case 0x494E_5436_34: return .int64  // INT64
        case 0x494E_5433_32: return .int32
        case 0x494E_5431_36: return .int16
        case 0x494E_5438: return .int8
        case 0x5549_4E54_3634: return .uint64  // UINT64
        case 0x5549_4E54_3332: return .uint32
        case 0x5549_4E54_3136: return .uint16
        case 0x5549_4E54_38: return .uint8
        case 0x424F_4F4C: return .bool  // BOOL
        default: return nil
        }
    }
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
    var shape: TensorShape?
    var data: TensorData?
    /// `parameters.binary_data_size`: the tensor's bytes follow the JSON header (binary tensor data
    /// extension); nil when the values are in `data`.
    var binarySize: Int?
}

/// An inference request body (`POST .../infer`), as parsed; not yet checked against a model.
struct InferRequest: Sendable {
    var id: String?
    var inputs: [InferTensor]?
    /// Names of the requested outputs; nil for all.
    var outputs: [String]?
    /// The requested outputs whose `parameters.binary_data` is true or false; absent ones follow
    /// `binaryDataOutput`.
    var outputBinary: [String: Bool] = [:]
    /// `parameters.binary_data_output`: outputs not named with their own `binary_data` are sent as
    /// raw bytes after the JSON header.
    var binaryDataOutput = false
}

/// A shape as sent: its first two dimensions inline (no allocation for the usual `[N]` and `[N, F]`),
/// the rest in an array; checked later so errors can name the tensor.
struct TensorShape: Sendable {
    var rank = 0
    var d0 = 0.0
    var d1 = 0.0
    var more: [Double]? = nil

    mutating func append(_ d: Double) {
        switch rank {
        case 0: d0 = d
        case 1: d1 = d
        default: more = (more ?? []) + [d]
        }
        rank += 1
    }

    var dims: [Double] { ([d0, d1] + (more ?? [])).prefix(rank).map { $0 } }
}
