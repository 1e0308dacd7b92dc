import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

/// The Open Inference Protocol endpoints of a real `mreg serve` process.
@Suite struct ServeProtocolTests {
    @Test func healthMetadataAndPredictionsBitForBit() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        store.add("mass", "v1", Models.mass)
        store.add("measures", "v1", Models.massNumeric)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }

        #expect(try await server.get("/v2/health/live").status == 200)
        #expect(try await server.get("/v2/health/ready").status == 200)
        let meta = try await server.get("/v2")
        #expect(meta.json?["name"] == "mreg")
        #expect(meta.json?["extensions"]?.arrayValue?.contains("model_repository") == true)

        let model = Models.species.model
        let m = try await server.get("/v2/models/penguins")
        #expect(m.status == 200)
        #expect(m.json?["name"] == "penguins")
        #expect(m.json?["versions"] == ["v1"])
        let inputs = m.json?["inputs"]?.arrayValue ?? []
        #expect(inputs.map { $0["name"]?.stringValue ?? "" } == model.features.map(\.name))
        for (i, f) in model.features.enumerated() {
            #expect(inputs[i]["datatype"]?.stringValue == (f.type == .numeric ? "FP64" : "BYTES"))
            #expect(inputs[i]["shape"] == [-1])
        }
        let outputs = m.json?["outputs"]?.arrayValue ?? []
        #expect(outputs.map { $0["name"]?.stringValue ?? "" } == ["label", "probabilities"])
        #expect(outputs[1]["shape"] == [-1, .number(Double(model.classes!.count))])
        #expect(outputs[1]["parameters"]?["classes"] == .array(model.classes!.map(JSONValue.string)))
        #expect(try await server.get("/v2/models/penguins/versions/v1").json?["versions"] == ["v1"])
        #expect(try await server.get("/v2/models/penguins/ready").json?["ready"] == true)
        #expect(try await server.get("/v2/models/penguins/versions/v1/ready").status == 200)

        // Every row of the data set, in batches, one tensor per feature: predictions equal Model.predict exactly.
        let rows = Models.penguinsTable.rowCount
        var start = 0
        while start < rows {
            let range = start..<min(rows, start + 100)
            let input = Models.input(model, rows: range)
            let expected = model.predict(input)
            let reply = try await server.post("/v2/models/penguins/infer", inferBody(model, input, id: "batch-\(start)"))
            #expect(reply.status == 200, "\(reply.text)")
            let json = try #require(reply.json)
            #expect(json["id"] == .string("batch-\(start)"))
            #expect(json["model_name"] == "penguins")
            #expect(json["model_version"] == "v1")
            let outs = json["outputs"]?.arrayValue ?? []
            #expect(outs.count == 2)
            #expect(outs[0]["name"] == "label")
            #expect(outs[0]["datatype"] == "BYTES")
            #expect(outs[0]["shape"] == [.number(Double(range.count))])
            #expect(outs[0]["data"]?.arrayValue?.map { $0.stringValue ?? "" } == expected.labels)
            #expect(outs[1]["name"] == "probabilities")
            #expect(outs[1]["shape"] == [.number(Double(range.count)), .number(Double(expected.classCount))])
            let probabilities = outs[1]["data"]?.arrayValue?.map { $0.doubleValue ?? .nan } ?? []
            #expect(probabilities.map(\.bitPattern) == expected.probabilities!.map(\.bitPattern))
            start = range.upperBound
        }

        // A regression model, one tensor per feature.
        let massModel = Models.mass.model
        let massInput = Models.input(massModel, rows: 0..<50)
        let massReply = try await server.post("/v2/models/mass/versions/v1/infer", inferBody(massModel, massInput))
        #expect(massReply.status == 200, "\(massReply.text)")
        let values = massReply.json?["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.map { $0.doubleValue ?? .nan } ?? []
        #expect(values.map(\.bitPattern) == massModel.predict(massInput).values!.map(\.bitPattern))
        #expect(massReply.json?["outputs"]?.arrayValue?.first?["name"] == "value")
        #expect(massReply.json?["outputs"]?.arrayValue?.first?["datatype"] == "FP64")
        #expect(massReply.json?["id"] == nil)

        // An all-numeric model takes one [N, F] tensor in schema order, flat or nested.
        let measures = Models.massNumeric.model
        let rowsInput = Models.input(measures, rows: 0..<40)
        var flat = [String]()
        var nested = [String]()
        for r in 0..<40 {
            let row = rowsInput.columns.map { c -> String in
                guard case .numeric(let v) = c else { return "null" }
                return v[r].isFinite ? "\(v[r])" : "null"
            }
            flat += row
            nested.append("[" + row.joined(separator: ",") + "]")
        }
        let expectedMeasures = measures.predict(rowsInput).values!.map(\.bitPattern)
        for data in [flat.joined(separator: ","), nested.joined(separator: ",")] {
            let reply = try await server.post("/v2/models/measures/infer",
                #"{"inputs":[{"name":"input__0","datatype":"FP64","shape":[40,3],"data":[\#(data)]}]}"#)
            #expect(reply.status == 200, "\(reply.text)")
            let got = reply.json?["outputs"]?.arrayValue?.first?["data"]?.arrayValue?.map { ($0.doubleValue ?? .nan).bitPattern }
            #expect(got == expectedMeasures)
        }
    }

    /// `Expect: 100-continue` gets an interim 100 before the body is sent, then the real answer.
    @Test func expectContinue() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let body = Array(Row.body(id: "expect").utf8)
        let c = try RawConnection(port: server.port)
        c.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\n\r\n")
        let interim = String(decoding: c.receiveSome(), as: UTF8.self)
        #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim)")
        c.send(body)
        let response = try #require(c.readResponse())
        #expect(response.status == 200)
        #expect(try JSONValue.parse(response.body)["id"] == "expect")
    }
}
