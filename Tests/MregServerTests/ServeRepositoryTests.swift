import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

/// The model repository extension: load (hot swap, canary), unload, index, state files and tokens.
@Suite struct ServeRepositoryTests {
    /// The row of `Row.body()` as model input.
    static let rowInput = ModelInput(columns: [
        .categorical(["Biscoe"]), .numeric([39.1]), .numeric([18.7]), .numeric([181]), .numeric([3750]),
        .categorical(["male"]), .numeric([2007]),
    ], rowCount: 1)

    static func expected(_ outcome: TrainOutcome) -> [UInt64] {
        outcome.model.predict(rowInput).probabilities!.map(\.bitPattern)
    }

    static func probabilities(_ reply: ServerProcess.Reply) -> [UInt64] {
        let outputs = reply.json?["outputs"]?.arrayValue ?? []
        let p = outputs.first { $0["name"] == "probabilities" }
        return p?["data"]?.arrayValue?.map { ($0.doubleValue ?? .nan).bitPattern } ?? []
    }

    func penguinsStore() -> TestStore {
        let store = TestStore()
        store.add("penguins", "v1", Models.species)
        store.add("penguins", "v2", Models.speciesV2)
        store.writeState("penguins", #"{"schema": 1, "version": "v1"}"#)
        return store
    }

    @Test func swapUnderLoadLosesNothing() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let expected = ["v1": Self.expected(Models.species), "v2": Self.expected(Models.speciesV2)]
        #expect(expected["v1"] != expected["v2"])

        let done = LockedFlag()
        let body = Row.body(id: "swap")
        // Four clients send requests back to back until the swaps are over.
        async let results: [[String: Int]] = withThrowingTaskGroup(of: [String: Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var seen = [String: Int]()
                    while !done.value {
                        let reply = try await server.post("/v2/models/penguins/infer", body)
                        let version = reply.json?["model_version"]?.stringValue ?? "none"
                        let ok = reply.status == 200 && Self.probabilities(reply) == expected[version]
                        seen[ok ? version : "failed \(reply.status) \(reply.text)", default: 0] += 1
                    }
                    return seen
                }
            }
            var all = [[String: Int]]()
            for try await r in group { all.append(r) }
            return all
        }
        try await _Concurrency.Task.sleep(for: .milliseconds(100))
        for i in 0..<20 {
            let version = i % 2 == 0 ? "v2" : "v1"
            let reply = try await server.admin("/v2/repository/models/penguins/load", #"{"parameters": {"version": "\#(version)"}}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["version"] == .string(version))
            try await _Concurrency.Task.sleep(for: .milliseconds(40))
        }
        done.set()
        var total = [String: Int]()
        for r in try await results { total.merge(r, uniquingKeysWith: +) }
        #expect(Set(total.keys) == ["v1", "v2"], "\(total)")
        #expect(total.values.reduce(0, +) > 100, "\(total)")
        // Back on v1 after an even number of swaps.
        #expect(try await server.get("/v2/models/penguins").json?["versions"] == ["v1"])
    }

    /// A request whose headers arrived before a swap is answered by the version it was routed to,
    /// even though its body arrives after the swap; an unload does not cut it off either.
    @Test func inFlightRequestsFinishOnTheirVersion() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let body = Array(Row.body(id: "slow").utf8)
        func start() throws -> RawConnection {
            let c = try RawConnection(port: server.port)
            c.send("POST /v2/models/penguins/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
            c.send(Array(body[0..<(body.count / 2)]))
            return c
        }
        let first = try start()
        try await _Concurrency.Task.sleep(for: .milliseconds(100))
        #expect(try await server.admin("/v2/repository/models/penguins/load", #"{"parameters": {"version": "v2"}}"#).status == 200)
        let second = try start()
        try await _Concurrency.Task.sleep(for: .milliseconds(100))
        #expect(try await server.admin("/v2/repository/models/penguins/unload").status == 200)
        #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 404)
        for (c, version, outcome) in [(first, "v1", Models.species), (second, "v2", Models.speciesV2)] {
            c.send(Array(body[(body.count / 2)...]))
            let response = try #require(c.readResponse())
            #expect(response.status == 200, "\(response.body)")
            let reply = ServerProcess.Reply(status: response.status, body: Data(response.body.utf8), headers: [:])
            #expect(reply.json?["model_version"] == .string(version))
            #expect(Self.probabilities(reply) == Self.expected(outcome))
        }
    }

    @Test func canaryWeights() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }

        func split(_ n: Int) async throws -> [String: Int] {
            try await withThrowingTaskGroup(of: [String: Int].self) { group in
                let clients = 8
                for c in 0..<clients {
                    group.addTask {
                        var seen = [String: Int]()
                        for _ in stride(from: c, to: n, by: clients) {
                            let reply = try await server.post("/v2/models/penguins/infer", Row.body())
                            seen[reply.status == 200 ? reply.json?["model_version"]?.stringValue ?? "?" : "failed", default: 0] += 1
                        }
                        return seen
                    }
                }
                var total = [String: Int]()
                for try await r in group { total.merge(r, uniquingKeysWith: +) }
                return total
            }
        }

        let load = try await server.admin("/v2/repository/models/penguins/load",
                                          #"{"parameters": {"version": "v1", "canary_version": "v2", "canary_weight": 10}}"#)
        #expect(load.status == 200, "\(load.text)")
        #expect(load.json?["canary"] == ["version": "v2", "weight": 10])
        #expect(try await server.get("/v2/models/penguins").json?["versions"] == ["v1", "v2"])
        let tenPercent = try await split(10_000)
        // Binomial(10000, 0.1): sd 30, so ±150 is five standard deviations.
        #expect(tenPercent["failed"] == nil)
        #expect(abs((tenPercent["v2"] ?? 0) - 1000) <= 150, "\(tenPercent)")
        #expect((tenPercent["v1"] ?? 0) + (tenPercent["v2"] ?? 0) == 10_000)

        // Naming a version always gets it.
        for v in ["v1", "v2"] {
            for _ in 0..<20 {
                let reply = try await server.post("/v2/models/penguins/versions/\(v)/infer", Row.body())
                #expect(reply.json?["model_version"] == .string(v))
            }
        }

        _ = try await server.admin("/v2/repository/models/penguins/load",
                                   #"{"parameters": {"version": "v1", "canary_version": "v2", "canary_weight": 0}}"#)
        #expect(try await split(1000) == ["v1": 1000])
        _ = try await server.admin("/v2/repository/models/penguins/load",
                                   #"{"parameters": {"version": "v1", "canary_version": "v2", "canary_weight": "100"}}"#)
        #expect(try await split(1000) == ["v2": 1000])
        // A load without canary parameters removes the canary.
        _ = try await server.admin("/v2/repository/models/penguins/load", #"{"parameters": {"version": "v1"}}"#)
        #expect(try await split(200) == ["v1": 200])
        #expect(try await server.post("/v2/models/penguins/versions/v2/infer", Row.body()).status == 404)

        let metrics = try await server.get("/metrics").text
        #expect(metrics.contains(#"mreg_inference_requests_total{model="penguins",version="v2",status="200"}"#))
        #expect(metrics.contains(#"mreg_model_loaded{model="penguins",version="v1",role="stable"} 1"#))
    }

    @Test func failedLoadsKeepTheOldVersionServing() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        store.add("penguins", "v3", artifact: Data(#"{"schema": 1, "task": "nonsense"}"#.utf8))
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }

        let broken = try await server.admin("/v2/repository/models/penguins/load", #"{"parameters": {"version": "v3"}}"#)
        #expect(broken.status == 422, "\(broken.text)")
        #expect(broken.error?.hasPrefix("cannot load model 'penguins' version 'v3': invalid model artifact") == true, "\(broken.text)")
        let missing = try await server.admin("/v2/repository/models/penguins/load", #"{"parameters": {"version": "v9"}}"#)
        #expect(missing.status == 404)
        #expect(missing.error == "model 'penguins' has no version 'v9' in the store")
        let canaryBroken = try await server.admin("/v2/repository/models/penguins/load",
                                                  #"{"parameters": {"version": "v2", "canary_version": "v3", "canary_weight": 5}}"#)
        #expect(canaryBroken.status == 422)
        let unknownModel = try await server.admin("/v2/repository/models/walrus/load")
        #expect(unknownModel.status == 404)
        #expect(unknownModel.error == "model 'walrus' is not in the store")
        for (params, message) in [
            (#"{"parameters": {"versoin": "v2"}}"#, "unknown parameter 'versoin'"),
            (#"{"parameters": {"version": "2"}}"#, "parameter 'version' must be a version name"),
            (#"{"parameters": {"version": "v2", "canary_version": "v1"}}"#, "'canary_weight' is required"),
            (#"{"parameters": {"version": "v2", "canary_version": "v1", "canary_weight": 101}}"#, "whole number from 0 to 100"),
            (#"{"parameters": {"version": "v2", "canary_weight": 5}}"#, "needs 'canary_version'"),
            (#"{"parameters": {"version": "v2", "canary_version": "v2", "canary_weight": 5}}"#, "is the same as 'version'"),
            (#"{"parameters": ["#, "not valid JSON"),
            (#"{"parameters": {"version": "v2", "reload": "v2"}}"#, "'reload' must be a list of version names"),
            (#"{"parameters": {"version": "v2", "reload": ["v1"]}}"#, "'reload' may name only the versions being loaded"),
            (#"{"parameters": {"version": "v2", "reload": [2]}}"#, "'reload' may name only the versions being loaded"),
        ] {
            let reply = try await server.admin("/v2/repository/models/penguins/load", params)
            #expect(reply.status == 400, "\(params): \(reply.text)")
            #expect(reply.error?.contains(message) == true, "\(params): \(reply.text)")
        }
        // Still v1, still ready, and the state file was not touched.
        let infer = try await server.post("/v2/models/penguins/infer", Row.body())
        #expect(infer.json?["model_version"] == "v1")
        #expect(Self.probabilities(infer) == Self.expected(Models.species))
        #expect(try await server.get("/v2/health/ready").status == 200)
        let state = try String(contentsOfFile: store.path + "/penguins/serving.json", encoding: .utf8)
        #expect(try JSONValue.parse(state) == ["schema": 1, "version": "v1"])

        let index = try await server.admin("/v2/repository/index", "{}")
        #expect(index.status == 200)
        let rows = index.json?.arrayValue ?? []
        #expect(rows.map { "\($0["name"]?.stringValue ?? "")@\($0["version"]?.stringValue ?? ""):\($0["state"]?.stringValue ?? "")" }
            == ["penguins@v1:READY", "penguins@v2:UNAVAILABLE", "penguins@v3:UNAVAILABLE"])
        #expect(rows[2]["reason"]?.stringValue?.contains("invalid model artifact") == true)
        #expect(try await server.admin("/v2/repository/index", #"{"ready": true}"#).json?.arrayValue?.count == 1)
        #expect(try await server.get("/metrics").text.contains("mreg_model_load_failures_total 3"))
    }

    @Test func stateSurvivesRestart() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        do {
            let server = try ServerProcess(store: store.path)
            defer { server.stop() }
            let reply = try await server.admin("/v2/repository/models/penguins/load",
                                               #"{"parameters": {"version": "v2", "canary_version": "v1", "canary_weight": 30}}"#)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(server.stop() == 0)
        }
        let state = try JSONValue.parse(String(contentsOfFile: store.path + "/penguins/serving.json", encoding: .utf8))
        #expect(state == ["schema": 1, "version": "v2", "canary": ["version": "v1", "weight": 30]])
        // No temporary files left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path + "/penguins").sorted() == ["serving.json", "v1", "v2"])

        do {
            let server = try ServerProcess(store: store.path)
            defer { server.stop() }
            #expect(try await server.get("/v2/models/penguins").json?["versions"] == ["v2", "v1"])
            let index = try await server.admin("/v2/repository/index").json?.arrayValue ?? []
            #expect(index.map { $0["role"]?.stringValue ?? "-" } == ["canary", "stable"])
            let unload = try await server.admin("/v2/repository/models/penguins/unload")
            #expect(unload.status == 200, "\(unload.text)")
            #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 404)
            #expect(try await server.get("/v2/health/ready").status == 200)
            #expect(try await server.admin("/v2/repository/models/penguins/unload").status == 404)
        }
        let unloaded = try JSONValue.parse(String(contentsOfFile: store.path + "/penguins/serving.json", encoding: .utf8))
        #expect(unloaded == ["schema": 1, "unloaded": true])
        do {
            let server = try ServerProcess(store: store.path)
            defer { server.stop() }
            #expect(try await server.get("/v2/models/penguins").status == 404)
            // Loading without a version when the store has two asks for one.
            let ambiguous = try await server.admin("/v2/repository/models/penguins/load")
            #expect(ambiguous.status == 400)
            #expect(ambiguous.error == "model 'penguins' has 2 versions in the store: name one with parameters.version")
        }
    }

    @Test func startUpFromTheStore() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)  // one version, no state file: served
        store.add("mass", "v1", Models.mass)
        store.add("mass", "v2", Models.mass)  // two versions, no state file: not loaded
        store.add("broken", "v1", Models.species)
        store.writeState("broken", #"{"schema": 1, "version": "v7"}"#)  // names a missing version
        store.add("walrus", "v1", Models.species)
        store.writeState("walrus", #"{"schema": 1, "version": "v1", "canary": {"version": "v1"}}"#)  // invalid
        store.add(".staging-penguins-v2", "v2", Models.speciesV2)  // the reconciler's staging area
        store.add("penguins", ".staging-v2", Models.speciesV2)
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }

        #expect(try await server.post("/v2/models/penguins/infer", Row.body()).status == 200)
        #expect(try await server.get("/v2/models/mass").status == 404)
        let ready = try await server.get("/v2/health/ready")
        #expect(ready.status == 503)
        let reasons = ready.json?["reasons"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(reasons.count == 2, "\(reasons)")
        #expect(reasons.first?.hasPrefix("broken: model 'broken' has no version 'v7' in the store") == true, "\(reasons)")
        #expect(reasons.last?.contains("'canary.weight' must be a whole number") == true, "\(reasons)")
        let notReady = try await server.post("/v2/models/broken/infer", Row.body())
        #expect(notReady.status == 503)
        #expect(try await server.get("/v2/models/broken/ready").status == 503)
        let index = try await server.admin("/v2/repository/index").json?.arrayValue ?? []
        #expect(!index.contains { ($0["name"]?.stringValue ?? "").hasPrefix(".") || ($0["version"]?.stringValue ?? "").hasPrefix(".") })
        #expect(server.stderr.contains("model 'mass' has 2 versions and no serving.json"), "\(server.stderr)")

        // Fixing the broken model through the API makes the host ready.
        #expect(try await server.admin("/v2/repository/models/broken/load", #"{"parameters": {"version": "v1"}}"#).status == 200)
        #expect(try await server.admin("/v2/repository/models/walrus/unload").status == 200)
        #expect(try await server.get("/v2/health/ready").status == 200)
    }

    @Test func tokens() async throws {
        let store = penguinsStore()
        defer { store.remove() }
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let load = "/v2/repository/models/penguins/load"
        #expect(try await server.post(load, "{}").status == 401)
        #expect(try await server.post(load, "{}", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await server.post(load, "{}", headers: ["Authorization": "Bearer \(server.token)x"]).status == 401)
        #expect(try await server.post(load, "{}", headers: ["Authorization": server.token]).status == 401)
        #expect(try await server.admin(load, "{}").status == 200)

        // Without a token file, loopback only: on any other address the server refuses to start.
        let refused = run(mregBinary, ["serve", "--store", store.path, "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "mreg: error: refusing to serve the repository endpoints on '0.0.0.0' without --admin-token-file\n")
        #expect(refused.stdout.isEmpty)
        let open = try ServerProcess(store: store.path, useToken: false)
        defer { open.stop() }
        #expect(try await open.post(load, #"{"parameters": {"version": "v2"}}"#).status == 200)
    }

    @Test func usageErrors() throws {
        let store = TestStore()
        defer { store.remove() }
        let missing = run(mregBinary, ["serve", "--store", store.dir.sub("nope"), "--port", "0"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("mreg: error: store '") && missing.stderr.hasSuffix("' is not a folder\n"))
        let badPort = run(mregBinary, ["serve", "--store", store.path, "--port", "70000"])
        #expect(badPort.status == 2)
        let help = run(mregBinary, ["serve", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("mreg serve --store /var/lib/mreg/store --port 8080"))
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flag
    }
    func set() {
        lock.lock()
        flag = true
        lock.unlock()
    }
}
