import Foundation
import MregTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An XGBoost model trained in Python goes the whole way: registered (as `model.json`, XGBoost's usual
/// name), promoted beside a pickle, served through `mreg reconcile` and `mreg serve`, answering /infer
/// with the library's own predictions, while the pickle is reported as not served.
@Suite(.serialized) struct ForeignServeTests {
    @Test(.enabled(if: PythonEnvironment.available, "needs python3 and pip for the parity venv"))
    func xgboostIsServedThroughTheReconcilerAndAPickleDoesNotBlockIt() async throws {
        let world = try ReconcileWorld("e2e-foreign")
        defer { world.close() }
        let models = world.dir.sub("trained")
        let t = PythonEnvironment.runScript("scripts/testing/train_foreign_models.py", [models])
        #expect(t.status == 0, "\(t.stderr)")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: models + "/cases.json"))) as! [String: Any]
        let columns = manifest["columns"] as! [String: [Any]]
        let c = (manifest["cases"] as! [[String: Any]]).first { $0["name"] as? String == "xgb-binary.json" }!
        let features = c["features"] as! [String]
        try FileManager.default.createDirectory(atPath: world.dir.sub("fraud"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: models + "/" + (c["file"] as! String), toPath: world.dir.sub("fraud/model.json"))
        let r = mreg(["register", "fraud", "--from", world.dir.sub("fraud")], in: world.work)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Registered fraud@v1 (xgboost-json, model.json)"), "\(r.stdout)")
        world.dir.write("sk/model.pkl", "\u{80}\u{04}pickle")
        let sk = mreg(["register", "sk", "--from", world.dir.sub("sk")], in: world.work)
        #expect(sk.stdout.contains("note: 'model.pkl' is format unknown"), "\(sk.stdout)")
        let deploy = "  fraud:\n    version: v1\n  sk:\n    version: v1\n"
        world.dir.write("work/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n    version: v1\n" + deploy)
        git(["add", "-A"], in: world.work)
        git(["commit", "-q", "-m", "Serve fraud and sk"], in: world.work)
        #expect(git(["push", "-q", world.url, "main"], in: world.work).status == 0)
        let status = mreg(["status"], in: world.work)
        #expect(status.stdout.contains("NOT SERVED: format unknown"), "\(status.stdout)")

        let store = world.dir.sub("store")
        let (serve, server) = try startServe(store: store, log: world.dir.sub("serve.log"))
        defer { serve.stop() }
        let reconcile = try Daemon(mregBinary, ["reconcile", "--repo", world.url, "--env", "production", "--host", "h1", "--server", server,
                                                "--store", store, "--interval", "30", "--listen", "127.0.0.1:0"],
                                   stdout: true, stderr: world.dir.sub("reconcile.log"))
        defer { reconcile.stop() }
        let address = reconcile.readLine() ?? ""
        #expect(address.hasPrefix("status on "), "\(address)")
        let pass = reconcile.readLine() ?? ""
        #expect(pass.hasPrefix("applied ") && pass.contains("not served: sk (sk@v1 is format 'unknown'"), "\(pass)")
        #expect(await servedVersion(server, "fraud") == "v1")
        #expect(await servedVersion(server, "penguins") == "v1")

        // Every unseen row in one request, missing values as null: the library's probabilities.
        var inputs = [[String: Any]]()
        for name in features {
            let cells = columns[name]!.map { $0 is NSNull ? NSNull() as Any : $0 }
            inputs.append(["name": name, "shape": [cells.count], "datatype": name == "cat" ? "INT64" : "FP64", "data": cells])
        }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["inputs": inputs]), as: UTF8.self)
        let (code, answer) = await httpJSON("POST", server + "/v2/models/fraud/infer", body: body)
        #expect(code == 200, "\(String(describing: answer))")
        let outputs = (answer as? [String: Any])?["outputs"] as? [[String: Any]] ?? []
        let probabilities = (outputs.first { $0["name"] as? String == "probabilities" }?["data"] as? [Double]) ?? []
        let expected = (c["predict"] as! [Any]).map { $0 as! Double }
        #expect(probabilities.count == expected.count * 2)
        var worst = 0.0
        for (i, p) in expected.enumerated() where 2 * i + 1 < probabilities.count { worst = max(worst, abs(probabilities[2 * i + 1] - p)) }
        print("mreg serve xgb-binary.json: max abs diff \(worst) over \(expected.count) rows")
        #expect(worst <= 1e-6)
        let (_, metadata) = await httpJSON("GET", server + "/v2/models/fraud")
        let parameters = (metadata as? [String: Any])?["parameters"] as? [String: Any]
        #expect(parameters?["format"] as? String == "xgboost-json")
        #expect(parameters?["features"] as? [String] == features)

        // The fleet view shows the host degraded, with the pickle not served and why.
        let fleet = mreg(["status", "--hosts", String(address.dropFirst("status on ".count))], in: world.dir.path)
        #expect(fleet.status == 1)
        #expect(fleet.stdout.contains("degraded"), "\(fleet.stdout)")
        #expect(fleet.stdout.contains("sk NOT SERVED"), "\(fleet.stdout)")
        #expect(fleet.stdout.contains("fraud@v1"), "\(fleet.stdout)")
        #expect(fleet.stdout.contains("sk: sk@v1 is format 'unknown' ('model.pkl')"), "\(fleet.stdout)")
    }
}

/// `mreg train NAME -- python train.py` with XGBoost: the same treatment as `mreg register`.
@Suite(.serialized) struct ForeignTrainTests {
    /// 400 rows of four numbers and a 0/1 label (x0 + x1 > 0), from a fixed linear congruential sequence.
    static func trainingCSV() -> String {
        var state: UInt64 = 42
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 4 - 2
        }
        var lines = ["x0,x1,x2,x3,label"]
        for _ in 0..<400 {
            let x = (0..<4).map { _ in (next() * 1000).rounded() / 1000 }
            lines.append(x.map { "\($0)" }.joined(separator: ",") + (x[0] + x[1] > 0 ? ",1" : ",0"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let script = """
        import json, os
        import pandas as pd, xgboost as xgb
        d = pd.read_csv(os.environ["MREG_DATA"])
        X, y = d.drop(columns=["label"]), d["label"]
        b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": int(os.environ["MREG_SEED"])}, xgb.DMatrix(X, label=y), 20)
        out = os.environ["MREG_OUTPUT"]
        b.save_model(out + "/model.json")
        json.dump({"accuracy": float(((b.predict(xgb.DMatrix(X)) > 0.5) == y).mean())}, open(out + "/metrics.json", "w"))
        """

    @Test(.enabled(if: PythonEnvironment.available, "needs python3 and pip for the parity venv"))
    func externalXGBoostTrainerGetsFormatTaskAndBaseline() async throws {
        guard case .success(let python) = PythonEnvironment.interpreter else { return }
        let dir = TempDir("e2e-foreign-train")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        dir.write("reg/models/fraud/model.yaml", "schemaVersion: 1\nname: fraud\ntarget: label\n")
        git(["add", "-A"], in: reg)
        git(["commit", "-q", "-m", "fraud's target"], in: reg)
        let data = dir.write("train.csv", Self.trainingCSV())
        let script = dir.write("train.py", Self.script)
        let t = mreg(["train", "fraud", "--data", data, "--", python, script], in: reg)
        #expect(t.status == 0, "\(t.stderr)")
        let record = try String(contentsOfFile: reg + "/models/fraud/v1/version.yaml", encoding: .utf8)
        #expect(record.contains("task: classification\n"), "\(record)")
        #expect(record.contains("format: xgboost-json\nartifact: model.json\n"), "\(record)")
        #expect(record.contains("kind: external"))
        let spec = try String(contentsOfFile: reg + "/models/fraud/model.yaml", encoding: .utf8)
        #expect(spec.contains("task: classification"), "\(spec)")
        let baseline = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reg + "/models/fraud/v1/baseline.json"))) as? [String: Any]
        #expect((baseline?["features"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["x0", "x1", "x2", "x3"])
        #expect((baseline?["target"] as? [String: Any])?["name"] as? String == "label")
        // Evaluated through the runtime on data, with the task's metrics.
        let e = mreg(["evaluate", "fraud@v1", "--data", data, "--format", "json"], in: reg)
        #expect(e.status == 0, "\(e.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any]
        let accuracy = (report?["metrics"] as? [String: Any])?["accuracy"] as? Double ?? 0
        #expect(accuracy > 0.9, "\(e.stdout)")

        // Served with capture, then monitored against the baseline the registration wrote: rows
        // like the training data show no drift, shifted ones do.
        let store = dir.sub("store")
        try FileManager.default.createDirectory(atPath: store + "/fraud", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: reg + "/models/fraud/v1", toPath: store + "/fraud/v1")
        let capture = dir.sub("capture")
        let (serve, server) = try startServe(store: store, log: dir.sub("serve.log"), capture: capture)
        let rows = Self.trainingCSV().split(separator: "\n").dropFirst().map { $0.split(separator: ",").dropLast().map { Double($0)! } }
        func send(_ batch: ArraySlice<[Double]>, shift: Double) async -> Int {
            let inputs = (0..<4).map { f -> [String: Any] in
                ["name": "x\(f)", "shape": [batch.count], "datatype": "FP64", "data": batch.map { $0[f] + (f == 0 ? shift : 0) }]
            }
            let body = String(decoding: try! JSONSerialization.data(withJSONObject: ["inputs": inputs]), as: UTF8.self)
            return await httpJSON("POST", server + "/v2/models/fraud/versions/v1/infer", body: body).0
        }
        func capturedRecords() -> Int {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: capture)) ?? []
            return files.filter { $0.hasSuffix(".jsonl") }.reduce(0) { n, f in
                n + ((try? String(contentsOfFile: capture + "/" + f, encoding: .utf8))?.split(separator: "\n").count ?? 0)
            }
        }
        for chunk in stride(from: 0, to: 200, by: 20) { #expect(await send(rows[chunk..<chunk + 20], shift: 0) == 200) }
        // Wait on the fact (ten records on disk), bounded.
        let deadline = Date().addingTimeInterval(30)
        while capturedRecords() < 10 && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        let normal = mreg(["monitor", "fraud@v1", "--capture", capture], in: reg)
        #expect(normal.status == 0, "rows like the training data: \(normal.stdout) \(normal.stderr)")
        let middle = Int64(Date().timeIntervalSince1970 * 1000) + 1
        while Int64(Date().timeIntervalSince1970 * 1000) <= middle { try await Task.sleep(nanoseconds: 1_000_000) }
        for chunk in stride(from: 200, to: 400, by: 20) { #expect(await send(rows[chunk..<chunk + 20], shift: 3) == 200) }
        serve.stop()  // drains the capture queue: every record is on disk
        let drifted = mreg(["monitor", "fraud@v1", "--capture", capture, "--since", isoMillis(middle)], in: reg)
        #expect(drifted.status == 1, "\(drifted.stdout) \(drifted.stderr)")
        #expect(drifted.stdout.contains("x0") && drifted.stdout.contains("DRIFT"), "\(drifted.stdout)")
    }

    /// Milliseconds since 1970 as the ISO 8601 time `--since` takes.
    func isoMillis(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}
