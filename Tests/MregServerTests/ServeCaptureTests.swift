import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

/// Data capture, graceful shutdown.
@Suite struct ServeCaptureTests {
    static func captured(_ dir: String) throws -> (files: [String], records: [JSONValue]) {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".jsonl") }.sorted()
        var records = [JSONValue]()
        for f in files {
            let text = try String(contentsOfFile: dir + "/" + f, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
            for line in text.split(separator: "\n") { records.append(try JSONValue.parse(String(line))) }
        }
        return (files, records)
    }

    @Test func capturesEveryRequestAsJSONLines() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        store.add("mass", "v1", Models.mass)
        let dir = store.dir.sub("capture")
        let server = try ServerProcess(store: store.path, arguments: ["--capture", dir, "--capture-percent", "100", "--capture-file-bytes", "4096"])
        defer { server.stop() }

        let model = Models.species.model
        var sent = [(id: String, input: ModelInput)]()
        for i in 0..<40 {
            let range = (i * 5)..<(i * 5 + 1 + i % 3)
            let input = Models.input(model, rows: range)
            let reply = try await server.post("/v2/models/penguins/infer", inferBody(model, input, id: "req-\(i)"))
            #expect(reply.status == 200)
            sent.append(("req-\(i)", input))
        }
        let massInput = Models.input(Models.mass.model, rows: 0..<3)
        #expect(try await server.post("/v2/models/mass/infer", inferBody(Models.mass.model, massInput)).status == 200)
        // Refused requests are not captured.
        #expect(try await server.post("/v2/models/penguins/infer", "{}").status == 400)
        #expect(server.stop() == 0)

        let (files, records) = try Self.captured(dir)
        #expect(files.count > 1, "rotation by size: \(files)")
        #expect(files.allSatisfy { $0.hasPrefix("capture-") })
        #expect(records.count == 41)
        let byID = Dictionary(uniqueKeysWithValues: records.compactMap { r in r["id"]?.stringValue.map { ($0, r) } })
        for (id, input) in sent {
            let r = try #require(byID[id])
            #expect(r["model"] == "penguins")
            #expect(r["version"] == "v1")
            #expect(r["rows"] == .number(Double(input.rowCount)))
            let ts = r["ts"]?.stringValue ?? ""
            #expect(ts.count == 24 && ts.hasSuffix("Z") && ts.contains("T"), "\(ts)")
            // Inputs by feature name, the values as sent (missing values as null).
            for (spec, column) in zip(model.features, input.columns) {
                let values = r["inputs"]?[spec.name]?.arrayValue ?? []
                switch column {
                case .numeric(let v):
                    #expect(values.map { $0.doubleValue ?? .nan }.map(\.bitPattern) == v.map { $0.isFinite ? $0 : .nan }.map(\.bitPattern))
                case .categorical(let v):
                    #expect(values.map(\.stringValue) == v)
                }
            }
            let expected = model.predict(input)
            #expect(r["outputs"]?["label"]?.arrayValue?.compactMap(\.stringValue) == expected.labels)
            let rows = r["outputs"]?["probabilities"]?.arrayValue ?? []
            #expect(rows.count == input.rowCount)
            #expect(rows.flatMap { $0.arrayValue ?? [] }.map { ($0.doubleValue ?? .nan).bitPattern } == expected.probabilities!.map(\.bitPattern))
        }
        let mass = try #require(records.first { $0["model"] == "mass" })
        #expect(mass["id"] == .null)
        #expect(mass["outputs"]?["value"]?.arrayValue?.map { ($0.doubleValue ?? .nan).bitPattern }
            == Models.mass.model.predict(massInput).values!.map(\.bitPattern))
    }

    @Test func samplesAPercentage() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let dir = store.dir.sub("capture")
        let server = try ServerProcess(store: store.path, arguments: ["--capture", dir, "--capture-percent", "25"])
        defer { server.stop() }
        for _ in 0..<400 { #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 200) }
        #expect(server.stop() == 0)
        // Binomial(400, 0.25): sd 8.7, so ±45 is five standard deviations.
        let count = try Self.captured(dir).records.count
        #expect(abs(count - 100) <= 45, "\(count)")
    }

    /// A disk "nearly full" (below --capture-min-free-bytes) drops records, counts them, and inference goes on.
    @Test func dropsWhenTheDiskIsNearlyFull() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let dir = store.dir.sub("capture")
        let server = try ServerProcess(store: store.path, arguments: [
            "--capture", dir, "--capture-percent", "100", "--capture-min-free-bytes", "\(UInt64(1) << 60)",
        ])
        defer { server.stop() }
        for _ in 0..<50 { #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 200) }
        var metrics = ""
        for _ in 0..<100 {
            metrics = try await server.get("/metrics").text
            if metrics.contains(#"mreg_capture_dropped_total{reason="disk_full"} 50"#) { break }
            try await _Concurrency.Task.sleep(for: .milliseconds(20))
        }
        #expect(metrics.contains(#"mreg_capture_dropped_total{reason="disk_full"} 50"#), "\(metrics)")
        #expect(metrics.contains("mreg_capture_records_total 0"))
        #expect(try Self.captured(dir).records.isEmpty)
    }

    /// SIGTERM while a request is in flight: it is answered in full, then the server exits 0.
    @Test func gracefulShutdownFinishesInFlightRequests() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }

        let body = Array(Row.body(id: "in-flight").utf8)
        let connection = try RawConnection(port: server.port)
        // Headers and half the body, then SIGTERM, then the rest.
        connection.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
        connection.send(Array(body[0..<(body.count / 2)]))
        try await _Concurrency.Task.sleep(for: .milliseconds(200))
        kill(server.process.processIdentifier, SIGTERM)
        try await _Concurrency.Task.sleep(for: .milliseconds(200))
        // New connections are refused once the listener is closed.
        #expect(throws: (any Error).self) { _ = try RawConnection(port: server.port) }
        connection.send(Array(body[(body.count / 2)...]))
        let response = try #require(connection.readResponse())
        #expect(response.status == 200)
        #expect(try JSONValue.parse(response.body)["id"] == "in-flight")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        #expect(server.process.terminationReason == .exit)
    }
}
