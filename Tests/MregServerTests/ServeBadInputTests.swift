import Foundation
import MregCore
import MregTestSupport
import Testing

/// Each bad request gets a 4xx with `{"error": "..."}`, and the server stays up.
@Suite struct ServeBadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method = "POST"
        var path = "/v2/models/penguins/infer"
        var body: String?
        var status: Int
        var error: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "malformed JSON", body: #"{"inputs": [ {"name": "island""#, status: 400, error: "not valid JSON"),
        Case(name: "trailing garbage", body: Row.body() + "x", status: 400, error: "unexpected data after the document"),
        Case(name: "empty body", body: "", status: 400, error: "request body is empty"),
        Case(name: "invalid escape in a string", body: #"{"id": "a\qb", "inputs": []}"#, status: 400, error: "invalid escape in string"),
        Case(name: "unpaired surrogate", body: #"{"id": "\ud83d", "inputs": []}"#, status: 400, error: "unpaired surrogate in string"),
        Case(name: "not an object", body: "[1, 2]", status: 400, error: "must be a JSON object"),
        Case(name: "missing inputs", body: #"{"id": "a"}"#, status: 400, error: "request has no 'inputs'"),
        Case(name: "empty inputs", body: #"{"inputs": []}"#, status: 400, error: "'inputs' is empty"),
        Case(name: "inputs not an array", body: #"{"inputs": {}}"#, status: 400, error: "'inputs' must be an array"),
        Case(name: "unknown input name",
             body: Row.body(extra: [#"{"name":"beak_colour","datatype":"BYTES","shape":[1],"data":["red"]}"#]),
             status: 400, error: "unknown input 'beak_colour'"),
        Case(name: "missing feature", body: Row.body(replace: ["bill_depth_mm": nil]), status: 400,
             error: "missing input for feature 'bill_depth_mm'"),
        Case(name: "feature given twice", body: Row.body(extra: [Row.tensors[1].json]), status: 400, error: "given twice"),
        Case(name: "shape product differs from data",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[2],"data":[39.1]}"#]),
             status: 400, error: "has shape [2] (2 elements) but 1 values"),
        Case(name: "rows differ between inputs",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[2],"data":[39.1,40]}"#]),
             status: 400, error: "has 2 rows, other inputs have 1"),
        Case(name: "negative dimension",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[-1],"data":[39.1]}"#]),
             status: 400, error: "negative dimension -1"),
        Case(name: "non-integer dimension",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1.5],"data":[39.1]}"#]),
             status: 400, error: "non-integer dimension 1.5"),
        Case(name: "dimension of 9.3e18 (beyond Int64)",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[9300000000000000000],"data":[39.1]}"#]),
             status: 400, error: "has a dimension too large: 9.3e+18"),
        Case(name: "dimension of 1e300",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1e300],"data":[39.1]}"#]),
             status: 400, error: "has a dimension too large: 1e+300"),
        Case(name: "negative dimension beyond Int64",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[-1e19],"data":[39.1]}"#]),
             status: 400, error: "negative dimension -1e+19"),
        Case(name: "huge fractional dimension",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1e19, 0.5],"data":[39.1]}"#]),
             status: 400, error: "has a dimension too large: 1e+19"),
        Case(name: "dimensions whose product overflows",
             body: #"{"inputs":[{"name":"x","datatype":"FP64","shape":[999999999999,999999999999,999999999999],"data":[1]}]}"#,
             status: 400, error: "has a shape with too many elements"),
        Case(name: "shape of strings",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":["1"],"data":[39.1]}"#]),
             status: 400, error: "shape' must hold whole numbers"),
        Case(name: "wrong rank",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1,1,1],"data":[39.1]}"#]),
             status: 400, error: "expected [N] or [N, 1]"),
        Case(name: "unknown datatype",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP128","shape":[1],"data":[39.1]}"#]),
             status: 400, error: "unknown datatype 'FP128'"),
        Case(name: "missing datatype",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","shape":[1],"data":[39.1]}"#]),
             status: 400, error: "has no 'datatype'"),
        Case(name: "strings in a FP64 tensor",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":["39.1"]}"#]),
             status: 400, error: "is FP64 but holds strings"),
        Case(name: "fraction in an INT32 tensor",
             body: Row.body(replace: ["body_mass_g": #"{"name":"body_mass_g","datatype":"INT32","shape":[1],"data":[3750.5]}"#]),
             status: 400, error: "not a whole number"),
        Case(name: "out of range for INT8",
             body: Row.body(replace: ["body_mass_g": #"{"name":"body_mass_g","datatype":"INT8","shape":[1],"data":[3750]}"#]),
             status: 400, error: "out of its range"),
        Case(name: "numbers for a categorical feature in FP64",
             body: Row.body(replace: ["island": #"{"name":"island","datatype":"FP64","shape":[1],"data":[1.5]}"#]),
             status: 400, error: "is categorical"),
        Case(name: "BYTES for a numeric feature",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"BYTES","shape":[1],"data":["x"]}"#]),
             status: 400, error: "is numeric"),
        Case(name: "mixed element kinds",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[2],"data":[1,"a"]}"#]),
             status: 400, error: "mixes numbers and strings"),
        Case(name: "NaN literal",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[NaN]}"#]),
             status: 400, error: "NaN and Infinity are not JSON"),
        Case(name: "Infinity literal",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[-Infinity]}"#]),
             status: 400, error: "not valid JSON"),
        Case(name: "number overflowing to infinity",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[1e999]}"#]),
             status: 400, error: "is not a finite number"),
        Case(name: "BOOL for a numeric feature",
             body: Row.body(replace: ["bill_length_mm": #"{"name":"bill_length_mm","datatype":"BOOL","shape":[1],"data":[true]}"#]),
             status: 400, error: "is numeric"),
        Case(name: "id not a string", body: #"{"id": 5, "inputs": []}"#, status: 400, error: "'id' must be a string"),
        Case(name: "unknown output", body: #"{"outputs": [{"name": "logits"}], "inputs": [\#(Row.tensors.map(\.json).joined(separator: ","))]}"#,
             status: 400, error: "unknown output 'logits'"),
        Case(name: "matrix of the wrong width",
             body: #"{"inputs":[{"name":"x","datatype":"FP64","shape":[1,3],"data":[1,2,3]}]}"#,
             status: 400, error: "expected [N, 7]"),
        Case(name: "deep nesting", body: "{\"inputs\":[{\"name\":\"island\",\"data\":" + String(repeating: "[", count: 5000), status: 400,
             error: "nesting deeper than 64"),
        Case(name: "oversized body (413)", body: "{\"inputs\": [" + String(repeating: " ", count: 70_000) + "]}", status: 413,
             error: "request body is larger than 65536 bytes"),
        Case(name: "unknown model", path: "/v2/models/walrus/infer", body: Row.body(), status: 404,
             error: "model 'walrus' is not served here"),
        Case(name: "unknown version", path: "/v2/models/penguins/versions/v9/infer", body: Row.body(), status: 404,
             error: "model 'penguins' has no loaded version 'v9'"),
        Case(name: "unknown model metadata", method: "GET", path: "/v2/models/walrus", status: 404, error: "is not served here"),
        Case(name: "unknown path", method: "GET", path: "/v3/models", status: 404, error: "no endpoint '/v3/models'"),
        Case(name: "GET on infer (405)", method: "GET", status: 405, error: "method 'GET' is not allowed"),
        Case(name: "POST on health (405)", method: "POST", path: "/v2/health/live", body: "{}", status: 405,
             error: "method 'POST' is not allowed on '/v2/health/live'"),
        Case(name: "DELETE on metadata (405)", method: "DELETE", path: "/v2/models/penguins", status: 405, error: "allowed: GET"),
        Case(name: "GET on load (405)", method: "GET", path: "/v2/repository/models/penguins/load", status: 405, error: "allowed: POST"),
        Case(name: "load without a token (401)", path: "/v2/repository/models/penguins/load", body: "{}", status: 401,
             error: "missing or wrong bearer token"),
        Case(name: "index without a token (401)", path: "/v2/repository/index", body: "{}", status: 401,
             error: "missing or wrong bearer token"),
    ]

    @Test(arguments: cases)
    func refused(_ c: Case) async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path, arguments: ["--max-body", "65536"])
        defer { server.stop() }
        let reply = try await server.request(c.method, c.path, body: c.body.map { Data($0.utf8) })
        #expect(reply.status == c.status, "\(reply.text)")
        #expect(reply.headers["content-type"] == "application/json")
        let message = try #require(reply.error, "no error field in \(reply.text)")
        #expect(message.contains(c.error), "\(message)")
        #expect(!message.contains("\n"))
        if c.status == 405 { #expect(reply.headers["allow"] != nil) }
        if c.status == 401 { #expect(reply.headers["www-authenticate"] == "Bearer") }
        // Still up and still right.
        #expect(try await server.get("/v2/health/live").status == 200)
        let ok = try await server.post("/v2/models/penguins/infer", Row.body(id: "after"))
        #expect(ok.status == 200, "\(ok.text)")
        #expect(ok.json?["id"] == "after")
    }

    /// A request with every accepted spelling: per-feature tensors of FP32, INT, [N,1] shapes, nulls for
    /// missing values, nested data, requested outputs.
    @Test func acceptedVariants() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let nulls = Row.body(replace: [
            "sex": #"{"name":"sex","datatype":"BYTES","shape":[1],"data":[null]}"#,
            "bill_length_mm": #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[null],"parameters":{"x":[1,{"y":null}]}}"#,
        ])
        let a = try await server.post("/v2/models/penguins/infer", nulls)
        #expect(a.status == 200, "\(a.text)")
        let only = #"{"outputs":[{"name":"probabilities"}],"parameters":{},"inputs":[\#(Row.tensors.map(\.json).joined(separator: ","))]}"#
        let b = try await server.post("/v2/models/penguins/infer", only)
        #expect(b.status == 200, "\(b.text)")
        #expect(b.json?["outputs"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["probabilities"])
        let zero = Row.body(replace: Dictionary(uniqueKeysWithValues: Row.tensors.map { t in
            (t.name, Optional(t.json.replacingOccurrences(of: #""shape":[1,1]"#, with: #""shape":[0,1]"#)
                .replacingOccurrences(of: #""shape":[1]"#, with: #""shape":[0]"#)
                .replacingOccurrences(of: #"\[\[?[^\]]*\]?\]\}"#, with: "[]}", options: .regularExpression)))
        }))
        let c = try await server.post("/v2/models/penguins/infer", zero)
        #expect(c.status == 200, "\(c.text) for \(zero)")
        #expect(c.json?["outputs"]?.arrayValue?.first?["shape"] == [0])
    }
}
