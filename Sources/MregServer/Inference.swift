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
        var checked = [(name: String, feature: Int?, type: TensorType, shape: [Int], data: TensorData)]()
        checked.reserveCapacity(tensors.count)
        for (i, t) in tensors.enumerated() {
            guard let name = t.name else { throw .invalidRequest("'inputs[\(i)]' has no 'name'") }
            var label: String { "tensor '\(ServerError.clip(name))'" }
            guard let type = t.type else {
                guard let typeText = t.datatype else { throw .invalidRequest("\(label) has no 'datatype'") }
                throw .invalidRequest("\(label) has unknown datatype '\(ServerError.clip(typeText))'")
            }
            guard let rawShape = t.shape else { throw .invalidRequest("\(label) has no 'shape'") }
            guard let data = t.data else { throw .invalidRequest("\(label) has no 'data'") }
            var shape = [Int]()
            shape.reserveCapacity(rawShape.count)
            var product = 1
            for d in rawShape {
                guard d == d.rounded(), d.isFinite else {
                    throw .invalidRequest("\(label) has a non-integer dimension \(d) in its shape")
                }
                guard d >= 0 else { throw .invalidRequest("\(label) has a negative dimension \(Int64(d)) in its shape") }
                guard d < 1e12 else { throw .invalidRequest("\(label) has a dimension too large: \(Int64(d))") }
                let (m, overflow) = product.multipliedReportingOverflow(by: Int(d))
                guard !overflow, m < 1 << 40 else { throw .invalidRequest("\(label) has a shape with too many elements") }
                product = m
                shape.append(Int(d))
            }
            guard !shape.isEmpty else { throw .invalidRequest("\(label) has an empty shape") }
            guard product == data.count else {
                throw .invalidRequest("\(label) has shape \(shapeText(shape)) (\(product) elements) but \(data.count) values in 'data'")
            }
            try checkElements(data, type: type, label: label)
            checked.append((name, t.feature ?? featureIndex[name], type, shape, data))
        }

        // A single tensor that is not named after a feature is the whole matrix.
        if checked.count == 1, checked[0].feature == nil || (checked[0].shape.count == 2 && checked[0].shape[1] == features.count && features.count > 1) {
            let t = checked[0]
            guard t.shape.count == 2, t.shape[1] == features.count else {
                if t.feature == nil && t.shape.count != 2 {
                    throw .invalidRequest("unknown input '\(ServerError.clip(t.name))' (inputs: \(featureList))")
                }
                throw .invalidRequest("tensor '\(ServerError.clip(t.name))' has shape \(shapeText(t.shape)), expected [N, \(features.count)] with the features in schema order (\(featureList))")
            }
            guard t.type.isNumeric else {
                throw .invalidRequest("tensor '\(ServerError.clip(t.name))' has datatype \(t.type.rawValue); a [N, F] tensor must be FP32, FP64 or an integer type")
            }
            let rows = t.shape[0]
            let width = features.count
            var columns = [FeatureColumn]()
            columns.reserveCapacity(width)
            if case .numbers(let values, _) = t.data {
                values.withUnsafeBufferPointer { v in
                    for j in 0..<width {
                        columns.append(.numeric((0..<rows).map { v[$0 * width + j] }))
                    }
                }
            } else {
                for _ in 0..<width { columns.append(.numeric([Double](repeating: .nan, count: rows))) }
            }
            return CheckedInput(input: ModelInput(columns: columns, rowCount: rows), outputs: outputs)
        }

        var columns = [FeatureColumn?](repeating: nil, count: features.count)
        var rows = -1
        for t in checked {
            guard let f = t.feature else {
                throw .invalidRequest("unknown input '\(ServerError.clip(t.name))' (inputs: \(featureList))")
            }
            guard columns[f] == nil else { throw .invalidRequest("input '\(ServerError.clip(t.name))' is given twice") }
            guard t.shape.count == 1 || (t.shape.count == 2 && t.shape[1] == 1) else {
                throw .invalidRequest("input '\(ServerError.clip(t.name))' has shape \(shapeText(t.shape)), expected [N] or [N, 1]")
            }
            if rows < 0 {
                rows = t.shape[0]
            } else if t.shape[0] != rows {
                throw .invalidRequest("input '\(ServerError.clip(t.name))' has \(t.shape[0]) rows, other inputs have \(rows)")
            }
            let spec = features[f]
            switch spec.type {
            case .numeric:
                guard t.type.isNumeric else {
                    throw .invalidRequest("input '\(ServerError.clip(t.name))' is numeric, so its datatype must be FP32, FP64 or an integer type, not \(t.type.rawValue)")
                }
                if case .numbers(let values, _) = t.data {
                    columns[f] = .numeric(values)
                } else {
                    columns[f] = .numeric([Double](repeating: .nan, count: t.data.count))
                }
            case .categorical:
                switch t.data {
                case .strings(let values) where t.type == .bytes:
                    columns[f] = .categorical(values)
                case .numbers(let values, _) where t.type.integerRange != nil:
                    // Integer codes stand for their text (`2007`), as in the training CSV.
                    columns[f] = .numeric(values)
                case .nulls(let n) where t.type == .bytes || t.type.integerRange != nil:
                    columns[f] = .categorical([String?](repeating: nil, count: n))
                default:
                    throw .invalidRequest("input '\(ServerError.clip(t.name))' is categorical, so its datatype must be BYTES (or an integer type), not \(t.type.rawValue)")
                }
            }
        }
        for (f, c) in columns.enumerated() where c == nil {
            throw .invalidRequest("missing input for feature '\(features[f].name)' (inputs: \(featureList))")
        }
        return CheckedInput(input: ModelInput(columns: columns.map { $0! }, rowCount: max(rows, 0)), outputs: outputs)
    }

    private var featureList: String {
        let names = model.features.prefix(20).map { "'\($0.name)'" }.joined(separator: ", ")
        return model.features.count > 20 ? names + ", ..." : names
    }

    private func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

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

    /// Writes the response document into `out`.
    func encodeResponse(id: String?, predictions: Predictions, outputs: UInt8, into out: inout [UInt8]) {
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
                out.append(contentsOf: #"],"data":["#.utf8)
                for (r, k) in indices.enumerated() {
                    if r > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: quotedClasses[k])
                }
                out.append(contentsOf: "]}".utf8)
                first = false
            }
            if outputs & 2 != 0, let probabilities = predictions.probabilities {
                if !first { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"name":"probabilities","datatype":"FP64","shape":["#.utf8)
                JSONWriter.int(rows, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.int(predictions.classCount, to: &out)
                out.append(contentsOf: #"],"data":["#.utf8)
                for (i, p) in probabilities.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    JSONWriter.double(p, to: &out)
                }
                out.append(contentsOf: "]}".utf8)
            }
        } else {
            out.append(contentsOf: #"{"name":"value","datatype":"FP64","shape":["#.utf8)
            JSONWriter.int(rows, to: &out)
            out.append(contentsOf: #"],"data":["#.utf8)
            for (i, v) in (predictions.values ?? []).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.double(v, to: &out)
            }
            out.append(contentsOf: "]}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
    }
}
