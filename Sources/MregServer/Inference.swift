import Foundation
import MregML

/// A request checked against a model: the columns in schema order and the outputs to send.
struct CheckedInput: Sendable {
    var input: ModelInput
    /// Bit 0: label (or value for regression), bit 1: probabilities.
    var outputs: UInt8
}

extension LoadedVersion {
    /// Turns the parsed tensors into model input, refusing anything that does not fit the schema.
    ///
    /// Accepted: one tensor per feature, named as in the schema, shape `[N]` or `[N, 1]`; or a single
    /// numeric tensor `[N, F]` whose columns are the features in schema order.
    func check(_ request: InferRequest) throws(ServerError) -> CheckedInput {
        guard let tensors = request.inputs else { throw .invalidRequest("request has no 'inputs'") }
        guard !tensors.isEmpty else { throw .invalidRequest("'inputs' is empty") }
        let outputs = try checkOutputs(request.outputs)
        let features = model.features

        // A single tensor that is not named after a feature (or is [N, F]) is the whole matrix.
        if tensors.count == 1 {
            let shape = try checkTensor(tensors[0], index: 0)
            let feature = tensors[0].feature ?? tensors[0].name.flatMap { featureIndex[$0] }
            if feature == nil || (shape.rank == 2 && shape.d1 == features.count && features.count > 1) {
                return CheckedInput(input: try matrix(tensors[0], shape), outputs: outputs)
            }
        }

        var columns = [FeatureColumn](repeating: .numeric([]), count: features.count)
        var given = [Bool](repeating: false, count: features.count)
        var rows = -1
        for i in tensors.indices {
            let shape = try checkTensor(tensors[i], index: i)
            let name = tensors[i].name!
            guard let f = tensors[i].feature ?? featureIndex[name] else {
                throw .invalidRequest("unknown input '\(ServerError.clip(name))' (inputs: \(featureList))")
            }
            guard !given[f] else { throw .invalidRequest("input '\(ServerError.clip(name))' is given twice") }
            given[f] = true
            guard shape.rank == 1 || (shape.rank == 2 && shape.d1 == 1) else {
                throw .invalidRequest("input '\(ServerError.clip(name))' has shape \(shape.text), expected [N] or [N, 1]")
            }
            if rows < 0 {
                rows = shape.d0
            } else if shape.d0 != rows {
                throw .invalidRequest("input '\(ServerError.clip(name))' has \(shape.d0) rows, other inputs have \(rows)")
            }
            let type = tensors[i].type!
            switch features[f].type {
            case .numeric:
                guard type.isNumeric else {
                    throw .invalidRequest("input '\(ServerError.clip(name))' is numeric, so its datatype must be FP32, FP64 or an integer type, not \(type.rawValue)")
                }
                switch tensors[i].data! {
                case .numbers(let values, _): columns[f] = .numeric(values)
                case let other: columns[f] = .numeric([Double](repeating: .nan, count: other.count))
                }
            case .categorical:
                switch tensors[i].data! {
                case .strings(let values) where type == .bytes:
                    columns[f] = .categorical(values)
                case .numbers(let values, _) where type.integerRange != nil:
                    // Integer codes stand for their text (`2007`), as in the training CSV.
                    columns[f] = .numeric(values)
                case .nulls(let n) where type == .bytes || type.integerRange != nil:
                    columns[f] = .categorical([String?](repeating: nil, count: n))
                default:
                    throw .invalidRequest("input '\(ServerError.clip(name))' is categorical, so its datatype must be BYTES (or an integer type), not \(type.rawValue)")
                }
            }
        }
        if let f = given.firstIndex(of: false) {
            throw .invalidRequest("missing input for feature '\(features[f].name)' (inputs: \(featureList))")
        }
        return CheckedInput(input: ModelInput(columns: columns, rowCount: max(rows, 0)), outputs: outputs)
    }

    /// A checked shape: whole, non-negative dimensions; `d0`/`d1` are the first two.
    struct Shape {
        var rank: Int
        var d0: Int
        var d1: Int
        var raw: TensorShape
        var text: String { LoadedVersion.text(raw) }
    }

    /// Checks one tensor on its own: name, datatype, shape against the number of values, element kinds.
    private func checkTensor(_ t: InferTensor, index i: Int) throws(ServerError) -> Shape {
        guard let name = t.name else { throw .invalidRequest("'inputs[\(i)]' has no 'name'") }
        var label: String { "tensor '\(ServerError.clip(name))'" }
        guard let type = t.type else {
            guard let typeText = t.datatype else { throw .invalidRequest("\(label) has no 'datatype'") }
            throw .invalidRequest("\(label) has unknown datatype '\(ServerError.clip(typeText))'")
        }
        guard let raw = t.shape else { throw .invalidRequest("\(label) has no 'shape'") }
        guard let data = t.data else { throw .invalidRequest("\(label) has no 'data'") }
        guard raw.rank > 0 else { throw .invalidRequest("\(label) has an empty shape") }
        var product = 1
        var shape = Shape(rank: raw.rank, d0: 0, d1: 0, raw: raw)
        for k in 0..<raw.rank {
            let d = k == 0 ? raw.d0 : k == 1 ? raw.d1 : raw.more![k - 2]
            guard d == d.rounded(), d.isFinite else {
                throw .invalidRequest("\(label) has a non-integer dimension \(LoadedVersion.text(dimension: d)) in its shape")
            }
            // Checked as a Double before any conversion: Int(d) traps beyond Int.max.
            guard d >= 0 else { throw .invalidRequest("\(label) has a negative dimension \(LoadedVersion.text(dimension: d)) in its shape") }
            guard d < 1e12 else { throw .invalidRequest("\(label) has a dimension too large: \(LoadedVersion.text(dimension: d))") }
            let (m, overflow) = product.multipliedReportingOverflow(by: Int(d))
            guard !overflow, m < 1 << 40 else { throw .invalidRequest("\(label) has a shape with too many elements") }
            product = m
            if k == 0 { shape.d0 = Int(d) } else if k == 1 { shape.d1 = Int(d) }
        }
        guard product == data.count else {
            throw .invalidRequest("\(label) has shape \(shape.text) (\(product) elements) but \(data.count) values in 'data'")
        }
        try checkElements(data, type: type, label: label)
        return shape
    }

    private static func text(_ raw: TensorShape) -> String {
        "[" + raw.dims.map { text(dimension: $0) }.joined(separator: ", ") + "]"
    }

    /// A dimension as the client wrote it: whole numbers without a fraction, anything else (huge,
    /// fractional) as a Double, never through an integer conversion that could trap.
    private static func text(dimension d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    /// A single `[N, F]` tensor: its columns are the features in schema order.
    private func matrix(_ t: InferTensor, _ shape: Shape) throws(ServerError) -> ModelInput {
        let features = model.features
        let name = t.name ?? ""
        let type = t.type!
        guard shape.rank == 2, shape.d1 == features.count else {
            if t.feature == nil && featureIndex[name] == nil && shape.rank != 2 {
                throw .invalidRequest("unknown input '\(ServerError.clip(name))' (inputs: \(featureList))")
            }
            throw .invalidRequest("tensor '\(ServerError.clip(name))' has shape \(shape.text), expected [N, \(features.count)] with the features in schema order (\(featureList))")
        }
        guard type.isNumeric else {
            throw .invalidRequest("tensor '\(ServerError.clip(name))' has datatype \(type.rawValue); a [N, F] tensor must be FP32, FP64 or an integer type")
        }
        let rows = shape.d0
        let width = features.count
        var columns = [FeatureColumn]()
        columns.reserveCapacity(width)
        if case .numbers(let values, _) = t.data! {
            values.withUnsafeBufferPointer { v in
                for j in 0..<width {
                    columns.append(.numeric((0..<rows).map { v[$0 * width + j] }))
                }
            }
        } else {
            for _ in 0..<width { columns.append(.numeric([Double](repeating: .nan, count: rows))) }
        }
        return ModelInput(columns: columns, rowCount: rows)
    }

    private var featureList: String {
        let names = model.features.prefix(20).map { "'\($0.name)'" }.joined(separator: ", ")
        return model.features.count > 20 ? names + ", ..." : names
    }

    private func checkOutputs(_ requested: [String]?) throws(ServerError) -> UInt8 {
        let all: UInt8 = model.task == .classification ? 3 : 1
        guard let requested else { return all }
        var mask: UInt8 = 0
        for name in requested {
            guard let i = outputNames.firstIndex(of: name) else {
                throw .invalidRequest("unknown output '\(ServerError.clip(name))' (outputs: \(outputNames.map { "'\($0)'" }.joined(separator: ", ")))")
            }
            mask |= 1 << UInt8(i)
        }
        return mask == 0 ? all : mask
    }

    /// Element kinds must fit the datatype: numbers for FP and INT (whole and in range for INT), strings
    /// for BYTES, booleans for BOOL; null (a missing value) fits all but BOOL.
    private func checkElements(_ data: TensorData, type: TensorType, label: @autoclosure () -> String) throws(ServerError) {
        switch data {
        case .nulls(let n):
            if type == .bool && n > 0 { throw .invalidRequest("\(label()) is BOOL but holds null") }
        case .numbers(let values, let nulls):
            guard type.isNumeric else {
                throw .invalidRequest("\(label()) is \(type.rawValue) but holds numbers")
            }
            let range = type.integerRange
            for (i, v) in values.enumerated() {
                if v.isNaN, nulls > 0 { continue }
                guard v.isFinite else { throw .invalidRequest("\(label()) element \(i) is not a finite number") }
                if let range {
                    guard v == v.rounded() else { throw .invalidRequest("\(label()) is \(type.rawValue) but element \(i) is \(v), not a whole number") }
                    guard range.contains(v) else { throw .invalidRequest("\(label()) is \(type.rawValue) but element \(i) (\(v)) is out of its range") }
                } else if type == .fp32, abs(v) > Double(Float.greatestFiniteMagnitude) {
                    throw .invalidRequest("\(label()) is FP32 but element \(i) (\(v)) is out of its range")
                }
            }
        case .strings:
            guard type == .bytes else { throw .invalidRequest("\(label()) is \(type.rawValue) but holds strings") }
        case .bools:
            guard type == .bool else { throw .invalidRequest("\(label()) is \(type.rawValue) but holds booleans") }
        }
    }

    /// Writes the response document into `out`. Outputs whose bit is set in `binary` (same bits as
    /// `outputs`) carry `parameters.binary_data_size` instead of `data`, their raw bytes appended to
    /// `tail` in output order (the binary tensor data extension).
    func encodeResponse(id: String?, predictions: Predictions, outputs: UInt8, binary: UInt8 = 0,
                        into out: inout [UInt8], tail: inout [UInt8]) {
        let rows = predictions.rowCount
        out.append(contentsOf: responsePrefix)
        if let id {
            out.append(contentsOf: #""id":"#.utf8)
            JSONWriter.string(id, to: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""outputs":["#.utf8)
        if model.task == .classification {
            var first = true
            if outputs & 1 != 0, let indices = predictions.classIndices {
                out.append(contentsOf: #"{"name":"label","datatype":"BYTES","shape":["#.utf8)
                JSONWriter.int(rows, to: &out)
                if binary & 1 != 0 {
                    let start = tail.count
                    appendRawLabels(indices, to: &tail)
                    LoadedVersion.binarySize(tail.count - start, to: &out)
                } else {
                    out.append(contentsOf: #"],"data":["#.utf8)
                    for (r, k) in indices.enumerated() {
                        if r > 0 { out.append(UInt8(ascii: ",")) }
                        out.append(contentsOf: quotedClasses[k])
                    }
                    out.append(contentsOf: "]}".utf8)
                }
                first = false
            }
            if outputs & 2 != 0, let probabilities = predictions.probabilities {
                if !first { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"name":"probabilities","datatype":"FP64","shape":["#.utf8)
                JSONWriter.int(rows, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.int(predictions.classCount, to: &out)
                LoadedVersion.doubles(probabilities, binary: binary & 2 != 0, to: &out, tail: &tail)
            }
        } else {
            out.append(contentsOf: #"{"name":"value","datatype":"FP64","shape":["#.utf8)
            JSONWriter.int(rows, to: &out)
            LoadedVersion.doubles(predictions.values ?? [], binary: binary & 1 != 0, to: &out, tail: &tail)
        }
        out.append(contentsOf: "]}".utf8)
    }

    /// Closes a shape and writes `data` (or, binary, appends little-endian FP64 bytes to `tail`).
    private static func doubles(_ values: [Double], binary: Bool, to out: inout [UInt8], tail: inout [UInt8]) {
        if binary {
            appendRaw(values, to: &tail)
            binarySize(values.count * 8, to: &out)
            return
        }
        out.append(contentsOf: #"],"data":["#.utf8)
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.double(v, to: &out)
        }
        out.append(contentsOf: "]}".utf8)
    }

    /// Labels as raw BYTES elements (4-byte little-endian length, then UTF-8), for binary outputs.
    func appendRawLabels(_ indices: [Int], to out: inout [UInt8]) {
        for k in indices { out.append(contentsOf: binaryClasses[k]) }
    }

    /// Values as raw little-endian FP64, for binary outputs.
    static func appendRaw(_ values: [Double], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    }

    /// Closes a shape and writes the parameters of a binary output.
    private static func binarySize(_ n: Int, to out: inout [UInt8]) {
        out.append(contentsOf: #"],"parameters":{"binary_data_size":"#.utf8)
        JSONWriter.int(n, to: &out)
        out.append(contentsOf: "}}".utf8)
    }

    /// The outputs of `mask` that go as binary: each output's own `binary_data`, else the request's
    /// `binary_data_output`.
    func binaryMask(_ request: InferRequest, outputs mask: UInt8) -> UInt8 {
        guard request.binaryDataOutput || !request.outputBinary.isEmpty else { return 0 }
        var bits: UInt8 = 0
        for (i, name) in outputNames.enumerated() where request.outputBinary[name] ?? request.binaryDataOutput {
            bits |= 1 << UInt8(i)
        }
        return bits & mask
    }
}
