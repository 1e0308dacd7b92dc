import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

/// A request body in the binary tensor data extension: JSON header, then raw bytes.
struct BinaryBody {
    var json = ""
    var tail = [UInt8]()

    var data: Data { Data(json.utf8) + Data(tail) }
    var headers: [String: String] { ["Inference-Header-Content-Length": String(json.utf8.count)] }

    static func fp64(_ values: [Double]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func fp32(_ values: [Double]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) } }
    static func int64(_ values: [Double]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) } }
    static func int32(_ values: [Double]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: Int32($0).littleEndian, Array.init) } }
    static func bytes(_ values: [String]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: UInt32($0.utf8.count).littleEndian, Array.init) + Array($0.utf8) }
    }

    /// One binary tensor per feature, numeric ones in the datatype given by `numeric` (by feature index).
    init(_ model: Model, _ input: ModelInput, numeric: (Int) -> String = { _ in "FP64" }, parameters: String = #"{"binary_data_output":true}"#) {
        var tensors = [String]()
        for (f, (spec, column)) in zip(model.features, input.columns).enumerated() {
            let type: String
            let raw: [UInt8]
            switch column {
            case .numeric(let v):
                type = numeric(f)
                raw = type == "FP32" ? BinaryBody.fp32(v) : type == "INT64" ? BinaryBody.int64(v) : type == "INT32" ? BinaryBody.int32(v) : BinaryBody.fp64(v)
            case .categorical(let v):
                type = "BYTES"
                raw = BinaryBody.bytes(v.map { $0 ?? "" })
            }
            tensors.append(#"{"name":"\#(spec.name)","datatype":"\#(type)","shape":[\#(input.rowCount)],"parameters":{"binary_data_size":\#(raw.count)}}"#)
            tail += raw
        }
        json = #"{"inputs":[\#(tensors.joined(separator: ","))],"parameters":\#(parameters)}"#
    }

    init(json: String, tail: [UInt8]) {
        self.json = json
        self.tail = tail
    }
}

/// A response in the binary tensor data extension, split into its JSON and its outputs' bytes.
struct BinaryReply {
    var json: JSONValue
    var outputs: [String: [UInt8]] = [:]

    init(_ reply: ServerProcess.Reply) throws {
        let length = try #require(reply.headers["inference-header-content-length"].flatMap { Int($0) }, "\(reply.headers)")
        let body = Array(reply.body)
        json = try JSONValue.parse(Data(body[0..<length]))
        var offset = length
        for output in json["outputs"]?.arrayValue ?? [] {
            guard let size = output["parameters"]?["binary_data_size"]?.doubleValue else { continue }
            outputs[output["name"]!.stringValue!] = Array(body[offset..<(offset + Int(size))])
            offset += Int(size)
        }
        #expect(offset == body.count)
    }

    func doubles(_ name: String) -> [Double] {
        let b = outputs[name] ?? []
        return stride(from: 0, to: b.count, by: 8).map { i in
            Double(bitPattern: b[i..<(i + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        }
    }

    func strings(_ name: String) -> [String] {
        let b = outputs[name] ?? []
        var out = [String]()
        var i = 0
        while i + 4 <= b.count {
            let n = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
            out.append(String(decoding: b[(i + 4)..<(i + 4 + n)], as: UTF8.self))
            i += 4 + n
        }
        return out
    }
}

/// The binary tensor data extension, the model configuration and statistics extensions, and
/// version numbers, against a real `mreg serve`.
@Suite struct ServeBinaryTests {
    @Test func binaryInputsAndOutputsEqualPredict() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        store.add("measures", "v1", Models.massNumeric)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let model = Models.species.model
        // BYTES has no null: a missing category is sent (and predicted) as the empty string.
        let raw = Models.input(model, rows: 0..<40)
        let input = ModelInput(columns: raw.columns.map { c in
            if case .categorical(let v) = c { return .categorical(v.map { $0 ?? "" }) }
            return c
        }, rowCount: raw.rowCount)
        let expected = model.predict(input)
        // `year` (never missing) as INT64 and as INT32, the rest FP64: all read to the same doubles.
        let kinds: [(Int) -> String] = [
            { _ in "FP64" },
            { f in model.features[f].name == "year" ? "INT64" : "FP64" },
            { f in model.features[f].name == "year" ? "INT32" : "FP64" },
        ]
        for numeric in kinds {
            let body = BinaryBody(model, input, numeric: numeric)
            let reply = try await server.request("POST", "/v2/models/penguins/infer", body: body.data, headers: body.headers)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.headers["content-type"] == "application/octet-stream")
            let binary = try BinaryReply(reply)
            #expect(binary.strings("label") == expected.labels)
            #expect(binary.doubles("probabilities") == expected.probabilities)
            #expect(binary.json["outputs"]?[1]?["shape"] == [40, .number(Double(expected.classCount))])
        }
        // Per output: label as JSON, probabilities binary; without binary outputs the answer is all JSON.
        var body = BinaryBody(model, input, parameters: "{}")
        body.json = String(body.json.dropLast()) + #","outputs":[{"name":"label","parameters":{"binary_data":false}},{"name":"probabilities","parameters":{"binary_data":true}}]}"#
        let mixed = try BinaryReply(try await server.request("POST", "/v2/models/penguins/infer", body: body.data, headers: body.headers))
        #expect(mixed.json["outputs"]?[0]?["data"] == .array(expected.labels!.map(JSONValue.string)))
        #expect(mixed.doubles("probabilities") == expected.probabilities)
        let plain = BinaryBody(model, input, parameters: "{}")
        let json = try await server.request("POST", "/v2/models/penguins/infer", body: plain.data, headers: plain.headers)
        #expect(json.headers["inference-header-content-length"] == nil)
        #expect(json.json?["outputs"]?[0]?["data"] == .array(expected.labels!.map(JSONValue.string)))

        // An [N, F] FP32 matrix: values rounded to 32 bits, as the client sent them.
        let numeric = Models.massNumeric.model
        let rows = Models.input(numeric, rows: 0..<30)
        var flat = [Double]()
        for r in 0..<30 { for c in rows.columns { if case .numeric(let v) = c { flat.append(Double(Float(v[r]))) } } }
        let rounded = ModelInput(columns: rows.columns.map { c in
            if case .numeric(let v) = c { return .numeric(v.map { Double(Float($0)) }) }
            return c
        }, rowCount: 30)
        let matrix = BinaryBody(json: #"{"inputs":[{"name":"input__0","datatype":"FP32","shape":[30,3],"parameters":{"binary_data_size":\#(flat.count * 4)}}],"outputs":[{"name":"value","parameters":{"binary_data":true}}]}"#,
                                tail: BinaryBody.fp32(flat))
        let m = try BinaryReply(try await server.request("POST", "/v2/models/measures/infer", body: matrix.data, headers: matrix.headers))
        #expect(m.doubles("value") == numeric.predict(rounded).values)
    }

    @Test func hostileBinaryBodiesGet400() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("measures", "v1", Models.massNumeric)
        let server = try ServerProcess(store: store.path, arguments: ["--max-body", "4096"])
        defer { server.stop() }
        func tensor(_ type: String = "FP64", shape: String = "[1,3]", size: String) -> String {
            #"{"inputs":[{"name":"input__0","datatype":"\#(type)","shape":\#(shape),"parameters":{"binary_data_size":\#(size)}}]}"#
        }
        let three = BinaryBody.fp64([40, 18, 190])
        // (JSON header, tail, header value or nil for the true length, expected error start)
        let cases: [(String, [UInt8], String?, String)] = [
            (tensor(size: "24"), three, "9999", "header 'Inference-Header-Content-Length' (9999) is larger than the body"),
            (tensor(size: "24"), three, "-1", "header 'Inference-Header-Content-Length' must be a whole number"),
            (tensor(size: "24"), three, "1e3", "header 'Inference-Header-Content-Length' must be a whole number"),
            (tensor(size: "24"), three, "99999999999999999999999", "header 'Inference-Header-Content-Length' must be a whole number"),
            (tensor(size: "32"), three, nil, "tensor 'input__0' has binary_data_size 32 but only 24 bytes remain"),
            (tensor(size: "16"), three, nil, "the body has 8 bytes after the JSON header that no tensor's binary_data_size accounts for"),
            (tensor(size: "20"), Array(three[0..<20]), nil, "tensor 'input__0' has binary_data_size 20, not a multiple of 8 (FP64)"),
            (tensor(shape: "[1,4]", size: "24"), three, nil, "tensor 'input__0' has shape [1, 4] (4 elements) but 3 values in 'data'"),
            (tensor(shape: "[-1,3]", size: "24"), three, nil, "tensor 'input__0' has a negative dimension -1"),
            (tensor(shape: "[1e13,3]", size: "24"), three, nil, "tensor 'input__0' has a dimension too large"),
            (tensor(shape: "[4294967296,4294967296]", size: "24"), three, nil, "tensor 'input__0' has a shape with too many elements"),
            (tensor(size: "-8"), three, nil, "'inputs[0].parameters.binary_data_size' must be a whole number of bytes from 0"),
            (tensor(size: "1.5"), three, nil, "'inputs[0].parameters.binary_data_size' must be a whole number of bytes from 0"),
            (tensor(size: "1e300"), three, nil, "'inputs[0].parameters.binary_data_size' must be a whole number of bytes from 0"),
            (tensor(size: "\"24\""), three, nil, "'inputs[0].parameters.binary_data_size' must be a number of bytes"),
            (tensor("BYTES", shape: "[1]", size: "5"), [0xFF, 0xFF, 0xFF, 0x7F, 0x41], nil, "tensor 'input__0' element 0 has length 2147483647 but only 1 bytes remain"),
            (tensor("BYTES", shape: "[1]", size: "2"), [1, 0], nil, "tensor 'input__0' has 2 bytes left where a 4-byte BYTES length is expected"),
            (tensor("BYTES", shape: "[1]", size: "6"), [2, 0, 0, 0, 0xC3, 0x28], nil, "tensor 'input__0' element 0 is not valid UTF-8"),
            (tensor("BOOL", shape: "[1,3]", size: "3"), [1, 0, 2], nil, "tensor 'input__0' is BOOL but byte 2 is 2, not 0 or 1"),
            (tensor("FP128", size: "24"), three, nil, "tensor 'input__0' has unknown datatype 'FP128'"),
            (#"{"inputs":[{"name":"input__0","datatype":"FP64","shape":[1,3],"data":[1,2,3],"parameters":{"binary_data_size":24}}]}"#, three, nil,
             "tensor 'input__0' has both 'data' and parameters.binary_data_size"),
            (#"{"inputs":[{"name":"input__0","datatype":"FP64","shape":[1,3],"data":[1,2,3]}]}"#, three, nil,
             "the body has 24 bytes after the JSON header that no tensor's binary_data_size accounts for"),
            (tensor(size: "24"), three, "0", "request body is empty"),
            (tensor(size: "24"), three, "20", "request body is not valid JSON"),
            (#"{"inputs":[],"parameters":{"binary_data_output":"yes"}}"#, [], nil, "'parameters.binary_data_output' must be true or false"),
        ]
        for (json, tail, header, message) in cases {
            let body = BinaryBody(json: json, tail: tail)
            let reply = try await server.request("POST", "/v2/models/measures/infer", body: body.data,
                                                 headers: ["Inference-Header-Content-Length": header ?? String(json.utf8.count)])
            #expect(reply.status == 400, "\(json) -> \(reply.text)")
            #expect(reply.error?.hasPrefix(message) == true, "\(json): \(reply.error ?? reply.text)")
        }
        // Without the header, binary_data_size has nothing to point at.
        let noHeader = try await server.post("/v2/models/measures/infer", tensor(size: "24"))
        #expect(noHeader.error == "tensor 'input__0' has parameters.binary_data_size but the request has no 'Inference-Header-Content-Length' header")
        // The body limit counts the whole body, header and binary data together.
        let big = BinaryBody(json: tensor(shape: "[1,600]", size: "4800"), tail: BinaryBody.fp64([Double](repeating: 1, count: 600)))
        let tooBig = try await server.request("POST", "/v2/models/measures/infer", body: big.data, headers: big.headers)
        #expect(tooBig.status == 413)
        #expect(tooBig.error == "request body is larger than 4096 bytes")
        // Still serving, exactly.
        let ok = BinaryBody(json: tensor(size: "24"), tail: three)
        let good = try await server.request("POST", "/v2/models/measures/infer", body: ok.data, headers: ok.headers)
        #expect(good.status == 200, "\(good.text)")
        #expect(good.json?["outputs"]?[0]?["data"]?[0]?.doubleValue
            == Models.massNumeric.model.predict(ModelInput(columns: [.numeric([40]), .numeric([18]), .numeric([190])], rowCount: 1)).values?[0])
    }

    @Test func configStatisticsAndVersionNumbers() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        store.add("penguins", "v2", Models.speciesV2)
        store.writeState("penguins", #"{"schema": 1, "version": "v1", "canary": {"version": "v2", "weight": 0}}"#)
        store.add("measures", "v3", Models.massNumeric)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let model = Models.species.model

        let config = try #require(try await server.get("/v2/models/penguins/config").json)
        #expect(config["name"] == "penguins")
        #expect(config["max_batch_size"] == 0)
        #expect(config["backend"] == "mreg")
        #expect(config["version_policy"]?["specific"]?["versions"] == [1, 2])
        #expect(config["input"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == model.features.map(\.name))
        #expect(config["input"]?.arrayValue?.map { $0["data_type"]?.stringValue ?? "" }
            == model.features.map { $0.type == .numeric ? "TYPE_FP64" : "TYPE_STRING" })
        #expect(config["output"]?[1]?["dims"] == [-1, .number(Double(model.classes!.count))])
        #expect(try await server.get("/v2/models/penguins/versions/2/config").json?["version_policy"]?["specific"]?["versions"] == [2])
        #expect(try await server.get("/v2/models/measures/versions/v3/config").json?["output"]?[0]?["name"] == "value")

        // Version numbers name the same versions on every route; other spellings are unknown.
        for path in ["/v2/models/measures/versions/3", "/v2/models/measures/versions/3/ready", "/v2/models/measures/versions/v3/ready"] {
            #expect(try await server.get(path).status == 200, "\(path)")
        }
        for version in ["03", "4", "v4", "3.0", "99999999999"] {
            let reply = try await server.get("/v2/models/measures/versions/\(version)/ready")
            #expect(reply.status == 404, "\(version)")
            #expect(reply.error == "model 'measures' has no loaded version '\(version)'")
        }
        let row = #"{"inputs":[{"name":"x","datatype":"FP64","shape":[2,3],"data":[40,18,190,41,17,200]}]}"#
        for path in ["/v2/models/measures/versions/3/infer", "/v2/models/measures/versions/v3/infer", "/v2/models/measures/infer"] {
            let reply = try await server.post(path, row)
            #expect(reply.json?["model_version"] == "v3", "\(path): \(reply.text)")
        }
        #expect(try await server.post("/v2/models/measures/infer", #"{"inputs":[]}"#).status == 400)

        let stats = try #require(try await server.get("/v2/models/measures/stats").json?["model_stats"]?.arrayValue)
        #expect(stats.count == 1)
        #expect(stats[0]["name"] == "measures")
        #expect(stats[0]["version"] == "3")
        let inference = try #require(stats[0]["inference_stats"])
        #expect(inference["success"]?["count"] == 3)
        #expect(inference["fail"]?["count"] == 1)
        #expect(stats[0]["inference_count"] == 6)
        #expect(stats[0]["execution_count"] == 3)
        let now = Date().timeIntervalSince1970 * 1000
        #expect(abs((stats[0]["last_inference"]?.doubleValue ?? 0) - now) < 60_000)
        for phase in ["success", "compute_input", "compute_infer", "compute_output"] {
            #expect((inference[phase]?["ns"]?.doubleValue ?? 0) > 0, "\(phase)")
        }
        #expect(try await server.get("/v2/models/penguins/stats").json?["model_stats"]?.arrayValue?.map { $0["version"] } == ["1", "2"])
        #expect(try await server.get("/v2/models/penguins/versions/2/stats").json?["model_stats"]?.arrayValue?.count == 1)
        let all = try await server.get("/v2/models/stats").json?["model_stats"]?.arrayValue ?? []
        #expect(all.map { $0["name"]?.stringValue ?? "" } == ["measures", "penguins", "penguins"])
        #expect(try await server.get("/v2/models/nope/stats").status == 404)
        #expect(try await server.get("/v2/models/nope/config").error == "model 'nope' is not served here")
        #expect(try await server.post("/v2/models/penguins/config", "{}").status == 405)
    }
}

extension JSONValue {
    /// The element at `index` of an array, nil for anything else.
    fileprivate subscript(_ index: Int) -> JSONValue? {
        guard let a = arrayValue, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
