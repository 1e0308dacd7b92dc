import Foundation

/// The binary tensor data extension (Triton's, which KServe clients share): a body is a JSON header
/// of `Inference-Header-Content-Length` bytes followed by the raw values of every input that has
/// `parameters.binary_data_size`, in the order of `inputs`.
extension InferRequest {
    /// Reads the `Inference-Header-Content-Length` value: a whole number of bytes, at most the body.
    static func binaryHeaderLength(_ value: String, bodyCount: Int) throws(ServerError) -> Int {
        guard let n = Int(value), n >= 0, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw .invalidRequest("header 'Inference-Header-Content-Length' must be a whole number of bytes, not '\(ServerError.clip(value))'")
        }
        guard n <= bodyCount else {
            throw .invalidRequest("header 'Inference-Header-Content-Length' (\(n)) is larger than the body (\(bodyCount) bytes)")
        }
        return n
    }

    /// Fills the `data` of each tensor with `binary_data_size` from `bytes` (what follows the JSON
    /// header; nil without the header). Every byte must belong to exactly one tensor.
    mutating func attachBinary(_ bytes: UnsafeRawBufferPointer?) throws(ServerError) {
        guard var tensors = inputs else {
            if let bytes, bytes.count > 0 { throw .invalidRequest("the body has \(bytes.count) bytes after the JSON header but no 'inputs'") }
            return
        }
        var offset = 0
        for i in tensors.indices {
            guard let size = tensors[i].binarySize else { continue }
            let label = tensors[i].name.map { "tensor '\(ServerError.clip($0))'" } ?? "'inputs[\(i)]'"
            guard let bytes else {
                throw .invalidRequest("\(label) has parameters.binary_data_size but the request has no 'Inference-Header-Content-Length' header")
            }
            guard tensors[i].data == nil else { throw .invalidRequest("\(label) has both 'data' and parameters.binary_data_size") }
            guard size <= bytes.count - offset else {
                throw .invalidRequest("\(label) has binary_data_size \(size) but only \(bytes.count - offset) bytes remain after the JSON header")
            }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
            offset += size
            // Without a known datatype the bytes are skipped; checking the tensor names the problem.
            if let type = tensors[i].type { tensors[i].data = try InferRequest.decode(slice, type: type, label: label) }
        }
        if let bytes, offset != bytes.count {
            throw .invalidRequest("the body has \(bytes.count - offset) bytes after the JSON header that no tensor's binary_data_size accounts for")
        }
        inputs = tensors
    }

    /// The bytes of one element of a fixed-size datatype.
    static func width(_ type: TensorType) -> Int {
        switch type {
        case .bool, .int8, .uint8: return 1
        case .int16, .uint16, .fp16: return 2
        case .int32, .uint32, .fp32: return 4
        case .int64, .uint64, .fp64: return 8
        case .bytes: return 0
        }
    }

    /// Raw little-endian values as tensor data; NaN is a missing value, as `null` is in JSON.
    static func decode(_ b: UnsafeRawBufferPointer, type: TensorType, label: String) throws(ServerError) -> TensorData {
        if type == .bytes { return .strings(try strings(b, label: label)) }
        let w = width(type)
        guard b.count % w == 0 else {
            throw .invalidRequest("\(label) has binary_data_size \(b.count), not a multiple of \(w) (\(type.rawValue))")
        }
        let n = b.count / w
        if type == .bool {
            var out = [Bool]()
            out.reserveCapacity(n)
            for i in 0..<n {
                let v = b[i]
                guard v <= 1 else { throw .invalidRequest("\(label) is BOOL but byte \(i) is \(v), not 0 or 1") }
                out.append(v == 1)
            }
            return .bools(out)
        }
        var values = [Double](repeating: 0, count: n)
        var nulls = 0
        for i in 0..<n {
            let o = i * w
            let v: Double
            switch type {
            case .fp64: v = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
            case .fp32: v = Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self))))
            case .fp16: v = Double(Float16(bitPattern: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt16.self))))
            case .int64: v = Double(Int64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int64.self)))
            case .int32: v = Double(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int32.self)))
            case .int16: v = Double(Int16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int16.self)))
            case .int8: v = Double(Int8(bitPattern: b[o]))
            case .uint64: v = Double(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
            case .uint32: v = Double(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
            case .uint16: v = Double(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
            default: v = Double(b[o])
            }
            if v.isNaN { nulls += 1 }
            values[i] = v
        }
        return .numbers(values, nulls: nulls)
    }

    /// BYTES elements: each a 4-byte little-endian length and that many bytes of UTF-8.
    static func strings(_ b: UnsafeRawBufferPointer, label: String) throws(ServerError) -> [String?] {
        var out = [String?]()
        var o = 0
        while o < b.count {
            guard b.count - o >= 4 else {
                throw .invalidRequest("\(label) has \(b.count - o) bytes left where a 4-byte BYTES length is expected")
            }
            let length = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
            o += 4
            guard length <= b.count - o else {
                throw .invalidRequest("\(label) element \(out.count) has length \(length) but only \(b.count - o) bytes remain")
            }
            guard let s = String(validating: UnsafeRawBufferPointer(rebasing: b[o..<(o + length)]), as: UTF8.self) else {
                throw .invalidRequest("\(label) element \(out.count) is not valid UTF-8")
            }
            out.append(s)
            o += length
        }
        return out
    }
}
