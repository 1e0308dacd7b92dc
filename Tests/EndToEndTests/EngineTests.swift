import Foundation
import MregTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The MLServer environment of `Tests/requirements-mlserver.txt`.
let mlserverVenv = PythonVenv(requirements: "Tests/requirements-mlserver.txt")

/// A real MLServer on 127.0.0.1 over its own model repository, loading nothing at startup (so a
/// restart loses every model until the reconciler loads them again), with no worker processes.
final class MLServer: @unchecked Sendable {
    let repository: String
    let port: Int
    let log: String
    private var daemon: Daemon?
    var url: String { "http://127.0.0.1:\(port)" }

    init(repository: String, log: String) throws {
        self.repository = repository
        self.log = log
        port = freePort()
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        try launch()
    }

    /// Starts it and waits until it is ready.
    func start() throws {
        try launch()
        try waitReady()
    }

    /// Starts the process (it takes seconds to get ready: `waitReady` waits).
    func launch() throws {
        guard let bin = mlserverVenv.binFolder else { throw Daemon.DidNotStart(what: mlserverVenv.unavailableReason) }
        let settings = [
            "MLSERVER_HOST=127.0.0.1", "MLSERVER_HTTP_PORT=\(port)", "MLSERVER_GRPC_PORT=\(freePort())",
            "MLSERVER_METRICS_PORT=\(freePort())", "MLSERVER_PARALLEL_WORKERS=0", "MLSERVER_LOAD_MODELS_AT_STARTUP=false",
        ]
        daemon = try Daemon("/usr/bin/env", settings + [bin + "/python", "-m", "mlserver.cli.main", "start", repository], stderr: log)
    }

    /// Waits on the fact, its readiness, bounded.
    func waitReady() throws {
        guard let d = daemon else { throw Daemon.DidNotStart(what: "mlserver is not running") }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if d.wait(seconds: 0.05) != nil { throw Daemon.DidNotStart(what: "mlserver exited; see \(log)") }
            var request = URLRequest(url: URL(string: url + "/v2/health/ready")!)
            request.timeoutInterval = 2
            if let (_, response) = try? get(request), (response as? HTTPURLResponse)?.statusCode == 200 { return }
        }
        d.stop()
        throw Daemon.DidNotStart(what: "mlserver did not get ready in 120 s; see \(log)")
    }

    /// A blocking GET (the setup runs outside any task).
    private func get(_ request: URLRequest) throws -> (Data, URLResponse) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Data, URLResponse)?
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if let data, let response { result = (data, response) }
            done.signal()
        }.resume()
        done.wait()
        guard let result else { throw Daemon.DidNotStart(what: "no answer") }
        return result
    }

    func stop() {
        daemon?.stop()
        daemon = nil
    }
}

/// A JSON POST (MLServer's FastAPI needs the content type); the status and the parsed body.
func postJSON(_ url: String, _ body: String, session: URLSession = .shared) async -> (Int, Any?) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = "POST"
    request.timeoutInterval = 10
    request.httpBody = Data(body.utf8)
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    guard let (data, response) = try? await session.data(for: request) else { return (0, nil) }
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONSerialization.jsonObject(with: data))
}

/// Waits (bounded) until `fact` holds; whether it did.
func eventually(_ seconds: Double = 60, _ fact: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !fact() {
        guard Date() < deadline else { return false }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return true
}

/// The reconciler driving mreg serve and MLServer on one host: native models on mreg serve,
/// scikit-learn and MLflow models on MLServer, one manifest.
@Suite(.serialized) struct EngineTests {
    static let models = """
          penguins:
            version: v1

        """

    /// A deployment as a pull request lands it: a branch writes the manifest, main merges it.
    func deploy(_ world: ReconcileWorld, _ models: String, branch: String) {
        git(["checkout", "-q", "-b", branch], in: world.work)
        world.dir.write("work/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n" + Self.models + models)
        git(["commit", "-q", "-am", "Deploy: \(branch)"], in: world.work)
        git(["checkout", "-q", "main"], in: world.work)
        git(["merge", "-q", "--no-ff", "-m", "Merge \(branch)", branch], in: world.work)
        let push = git(["push", "-q", world.url, "main"], in: world.work)
        #expect(push.status == 0, "git push: \(push.stderr)")
    }

    /// The reconciler's /status row of `model`.
    func row(_ status: String, _ model: String) async -> [String: Any] {
        let (_, body) = await httpJSON("GET", status + "/status")
        let rows = (body as? [String: Any])?["models"] as? [[String: Any]] ?? []
        return rows.first { $0["name"] as? String == model } ?? [:]
    }

    func served(_ row: [String: Any]) -> String? { (row["serving"] as? [String: Any])?["version"] as? String }

    /// Waits until the model's row satisfies `fact` (bounded); the last row seen.
    func waitFor(_ status: String, _ model: String, _ fact: ([String: Any]) -> Bool) async -> [String: Any] {
        let deadline = Date().addingTimeInterval(60)
        var last = [String: Any]()
        while Date() < deadline {
            last = await row(status, model)
            if fact(last) { return last }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return last
    }

    /// An inference on MLServer with the pandas content type, one input per column.
    static func request(_ rows: [String: Any], count: Int) -> String {
        let inputs: [[String: Any]] = [
            ["name": "x0", "shape": [count], "datatype": "FP64", "data": Array((rows["x0"] as! [Double]).prefix(count))],
            ["name": "x1", "shape": [count], "datatype": "FP64", "data": Array((rows["x1"] as! [Double]).prefix(count))],
            ["name": "color", "shape": [count], "datatype": "BYTES", "data": Array((rows["color"] as! [String]).prefix(count)),
             "parameters": ["content_type": "str"]],
        ]
        let body: [String: Any] = ["parameters": ["content_type": "pd"], "inputs": inputs]
        return String(decoding: try! JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }

    static func outputs(_ answer: Any?) -> [Double] {
        let out = ((answer as? [String: Any])?["outputs"] as? [[String: Any]])?.first
        return (out?["data"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
    }

    static let spec = """
        schemaVersion: 1
        name: NAME
        features:
          - name: x0
            type: numeric
          - name: x1
            type: numeric
          - name: color
            type: categorical

        """

    @Test(.enabled(if: mlserverVenv.available, "needs python3 and pip for the MLServer venv (Tests/requirements-mlserver.txt)"))
    func mlserverServesSwitchesRefusesAndHealsBesideMregServe() async throws {
        let world = try ReconcileWorld("e2e-engines")
        defer { world.close() }
        // MLServer gets ready while the models train.
        let ml = try MLServer(repository: world.dir.sub("mlserver-models"), log: world.dir.sub("mlserver.log"))
        defer { ml.stop() }
        let trained = world.dir.sub("trained")
        let t = mlserverVenv.runScript("scripts/testing/train_mlserver_models.py", [trained])
        try #require(t.status == 0, "\(t.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trained + "/rows.json"))) as! [String: Any]
        for (model, folder) in [("sk", "sk-v1"), ("sk", "sk-v2"), ("sk", "sk-bad"), ("mlf", "mlf-v1")] {
            let r = mreg(["register", model, "--from", trained + "/" + folder], in: world.work)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains(model == "sk" ? "(sklearn, model.joblib)" : "(mlflow, MLmodel)"), "\(r.stdout)")
        }
        world.dir.write("work/models/sk/model.yaml", Self.spec.replacingOccurrences(of: "NAME", with: "sk"))
        world.dir.write("work/models/mlf/model.yaml", Self.spec.replacingOccurrences(of: "NAME", with: "mlf"))
        git(["add", "-A"], in: world.work)
        git(["commit", "-q", "-m", "Features of sk and mlf"], in: world.work)
        deploy(world, "  sk:\n    version: v1\n  mlf:\n    version: v1\n", branch: "deploy/engines")

        let store = world.dir.sub("store")
        let (serve, server) = try startServe(store: store, log: world.dir.sub("serve.log"))
        defer { serve.stop() }
        try ml.waitReady()
        let reconciler = try Daemon(mregBinary, [
            "reconcile", "--repo", world.url, "--env", "production", "--host", "h1", "--store", store,
            "--server", server, "--engine", "mlserver=\(ml.url),repo=\(ml.repository)", "--interval", "300ms", "--listen", "127.0.0.1:0",
        ], stdout: true, stderr: world.dir.sub("reconcile.log"))
        defer { reconciler.stop() }
        let first = reconciler.readLine() ?? ""
        try #require(first.hasPrefix("status on "), "\(first)")
        let status = String(first.dropFirst("status on ".count))
        let applied = reconciler.readLine() ?? ""
        #expect(applied.hasPrefix("applied ") && applied.contains("serve sk v1") && applied.contains("serve mlf v1"), "\(applied)")

        // One manifest, two engines: penguins on mreg serve, sk and mlf on MLServer, each the registered artifact.
        #expect(await servedVersion(server) == "v1")
        let sk = await row(status, "sk")
        #expect(sk["engine"] as? String == "mlserver" && served(sk) == "v1" && sk["state"] as? String == "serving", "\(sk)")
        #expect(await row(status, "penguins")["engine"] as? String == "mreg")
        let (code, answer) = await postJSON(ml.url + "/v2/models/sk/infer", Self.request(rows, count: 8))
        #expect(code == 200 && Self.outputs(answer) == (rows["sk-v1"] as! [Double]), "\(String(describing: answer))")
        let (mcode, manswer) = await postJSON(ml.url + "/v2/models/mlf/infer", Self.request(rows, count: 8))
        let expected = rows["mlf-v1"] as! [Double]
        #expect(mcode == 200 && zip(Self.outputs(manswer), expected).allSatisfy { abs($0 - $1) < 1e-9 } && Self.outputs(manswer).count == 8,
                "\(String(describing: manswer))")

        // A switch under load: no request fails.
        let counter = TrafficCounter()
        let body = Self.request(rows, count: 1)
        let client = Task.detached {
            let session = URLSession(configuration: .ephemeral)
            while !counter.isStopped {
                counter.record(await postJSON(ml.url + "/v2/models/sk/infer", body, session: session).0)
            }
        }
        #expect(await eventually { counter.succeeded >= 5 }, "the client's requests are not answered")
        deploy(world, "  sk:\n    version: v2\n  mlf:\n    version: v1\n", branch: "deploy/sk-v2")
        let switched = await waitFor(status, "sk") { served($0) == "v2" }
        #expect(served(switched) == "v2", "\(switched)")
        let seenAfter = counter.succeeded
        #expect(await eventually { counter.succeeded >= seenAfter + 5 })
        let traffic = counter.stop()
        await client.value
        #expect(traffic.failed.isEmpty && traffic.ok > 10, "\(traffic.ok) ok, failed: \(traffic.failed)")
        let (_, v2answer) = await postJSON(ml.url + "/v2/models/sk/infer", Self.request(rows, count: 8))
        #expect(Self.outputs(v2answer) == (rows["sk-v2"] as! [Double]))

        // No traffic split on MLServer: a canary is refused for sk alone, with the reason; sk keeps v2.
        deploy(world, "  sk:\n    version: v2\n    canary:\n      version: v1\n      weight: 10\n  mlf:\n    version: v1\n", branch: "deploy/sk-canary")
        let canary = await waitFor(status, "sk") { $0["state"] as? String == "failed" }
        #expect((canary["reason"] as? String)?.contains("engine 'mlserver' cannot split traffic") == true && served(canary) == "v2", "\(canary)")

        // A version MLServer refuses to load never takes traffic: sk stays on v2, reported failed.
        deploy(world, "  sk:\n    version: v3\n  mlf:\n    version: v1\n", branch: "deploy/sk-bad")
        let refused = await waitFor(status, "sk") { ($0["desired"] as? [String: Any])?["version"] as? String == "v3" && $0["state"] as? String == "failed" }
        #expect((refused["reason"] as? String)?.contains("mlserver load of sk@v3 failed") == true && served(refused) == "v2", "\(refused)")
        let (keptCode, kept) = await postJSON(ml.url + "/v2/models/sk/infer", Self.request(rows, count: 8))
        #expect(keptCode == 200 && Self.outputs(kept) == (rows["sk-v2"] as! [Double]), "\(keptCode) \(String(describing: kept))")
        #expect(await row(status, "mlf")["state"] as? String == "serving")

        // Rolled back to v1.
        deploy(world, "  sk:\n    version: v1\n  mlf:\n    version: v1\n", branch: "rollback/sk-v1")
        let back = await waitFor(status, "sk") { served($0) == "v1" && $0["state"] as? String == "serving" }
        #expect(served(back) == "v1", "\(back)")

        // MLServer restarts with nothing loaded: the reconciler loads every model again.
        // Only the reconciler loads models into this MLServer, so answers prove the heal.
        ml.stop()
        try ml.start()
        for model in ["sk", "mlf"] {
            var code = 0
            let deadline = Date().addingTimeInterval(60)
            while code != 200 && Date() < deadline {
                code = await postJSON(ml.url + "/v2/models/\(model)/infer", Self.request(rows, count: 8)).0
                if code != 200 { try await Task.sleep(nanoseconds: 50_000_000) }
            }
            #expect(code == 200, "\(model) is not served again after MLServer restarted")
        }
        let (healedCode, healedAnswer) = await postJSON(ml.url + "/v2/models/sk/infer", Self.request(rows, count: 8))
        #expect(healedCode == 200 && Self.outputs(healedAnswer) == (rows["sk-v1"] as! [Double]), "\(healedCode) \(String(describing: healedAnswer))")
        // The pass that loaded them counts as healed (the status keeps only the last 20 passes; the counter stays).
        // Its pass may still be smoke-testing when the answers come: wait for the counter, bounded.
        var healedLine: Substring?
        let deadline = Date().addingTimeInterval(30)
        repeat {
            let metrics = (try? await URLSession.shared.data(from: URL(string: status + "/metrics")!)).map { String(decoding: $0.0, as: UTF8.self) } ?? ""
            healedLine = metrics.split(separator: "\n").first { $0.hasPrefix("mreg_reconcile_passes_total{") && $0.contains("outcome=\"healed\"") }
            if healedLine.map({ !$0.hasSuffix(" 0") }) == true { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        } while Date() < deadline
        #expect(healedLine.map { !$0.hasSuffix(" 0") } == true, "\(healedLine ?? "no healed counter")")
        let final = await waitFor(status, "sk") { served($0) == "v1" && $0["state"] as? String == "serving" }
        #expect(served(final) == "v1", "\(final)")
    }

    @Test func badEngineConfigurationIsAOneLineUsageError() {
        let cases: [([String], String)] = [
            (["--engine", "triton=http://127.0.0.1:1"], "engine 'triton' is not one mreg drives (mreg, mlserver)"),
            (["--engine", "mlserver=http://127.0.0.1:1"], "engine 'mlserver' needs repo=DIR"),
            (["--engine", "mlserver=ftp://x,repo=/tmp"], "engine 'mlserver': 'ftp://x' is not an http:// or https:// URL"),
            (["--engine", "mlserver=http://127.0.0.1:1,repo=/tmp,formats=mreg"], "engine 'mlserver' cannot serve format 'mreg'"),
            (["--engine", "mlserver=http://127.0.0.1:1,color=red"], "engine 'mlserver': 'color' is not an option"),
            (["--server", "http://127.0.0.1:1", "--engine", "mreg=http://127.0.0.1:2"], "engine 'mreg' is given twice"),
            ([], "name the engines this host drives: --server URL or --engine KIND=URL"),
        ]
        for (arguments, message) in cases {
            let r = mreg(["reconcile", "--repo", "/nonexistent", "--env", "production", "--host", "h1", "--store", "/nonexistent/store", "--once"]
                         + arguments, in: "/")
            #expect(r.status == 2 && r.isOneLineError, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }
}
