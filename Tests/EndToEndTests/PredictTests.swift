import Foundation
import MregTestSupport
import Testing

@Suite(.serialized) struct PredictTests {
    func registry(_ dir: TempDir) -> String {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        return reg
    }

    /// Registers the hand-made LightGBM model as `lgb@v1`.
    func registerLightGBM(_ dir: TempDir, _ reg: String) {
        dir.write("lgb/lgb.txt", handLightGBM)
        let r = mreg(["register", "lgb", "--from", dir.sub("lgb")], in: reg)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func builtInModelToCSVAndJSONLines() throws {
        let dir = TempDir("e2e-predict")
        defer { dir.remove() }
        let reg = registry(dir)
        let t = mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--trials", "1"], in: reg)
        #expect(t.status == 0, "\(t.stderr)")
        let out = dir.sub("scored.csv")
        let p = mreg(["predict", "penguins@v1", "--data", penguinsCSV, "--out", out, "--keep", "island", "--proba", "--batch-size", "50"], in: reg)
        #expect(p.status == 0, "\(p.stderr)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let input = try String(contentsOfFile: penguinsCSV, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "island,prediction,proba_Adelie,proba_Chinstrap,proba_Gentoo,model,version")
        #expect(rows.count == input.count)
        #expect(rows.dropFirst().allSatisfy { $0.hasSuffix(",penguins,v1") })
        #expect(p.stderr.contains("scored \(input.count - 1) of \(input.count - 1) rows with penguins@v1 (mreg)"))
        // The same through standard input and out as JSON Lines.
        let csv = try Data(contentsOf: URL(fileURLWithPath: penguinsCSV))
        let j = run(mregBinary, ["predict", "penguins@v1", "--data", "-", "--output-format", "jsonl"], cwd: reg,
                    environment: testEnvironment.merging(["MREG_REGISTRY": ""]) { $1 }, stdin: csv)
        #expect(j.status == 0, "\(j.stderr)")
        let first = json(String(j.stdout.split(separator: "\n").first ?? ""))
        #expect(first["model"] as? String == "penguins")
        #expect(first["version"] as? String == "v1")
        #expect(["Adelie", "Chinstrap", "Gentoo"].contains(first["prediction"] as? String ?? ""))
    }

    @Test func foreignModelAndBadRows() throws {
        let dir = TempDir("e2e-predict")
        defer { dir.remove() }
        let reg = registry(dir)
        registerLightGBM(dir, reg)
        let data = dir.write("in.csv", "id,a,b\nr1,0.1,1\nr2,0.5,1\nr3,x,2\nr4,0.5,2,9\nr5,,1\n")
        // fail: stops at the first bad row, exit 2, no output file.
        let fail = mreg(["predict", "lgb@v1", "--data", data, "--out", dir.sub("o.csv")], in: reg)
        #expect(fail.status == 2)
        #expect(fail.isOneLineError)
        #expect(fail.stderr.contains("in.csv: line 4: column 'a': 'x' is not a number"), "\(fail.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.sub("o.csv")))
        // skip: the rest is scored, the count is on stderr, exit 1.
        let skip = mreg(["predict", "lgb@v1", "--data", data, "--out", dir.sub("o.csv"), "--keep", "id", "--on-error", "skip"], in: reg)
        #expect(skip.status == 1)
        #expect(skip.stderr.contains("scored 3 of 5 rows with lgb@v1 (lightgbm-text); skipped 2 bad rows (first: line 4: column 'a': 'x' is not a number)"), "\(skip.stderr)")
        let out = try String(contentsOfFile: dir.sub("o.csv"), encoding: .utf8)
        #expect(out == "id,prediction,model,version\nr1,-0.5,lgb,v1\nr2,0.75,lgb,v1\nr5,-0.5,lgb,v1\n")
        // JSON Lines in and out, kept values as given.
        let jl = dir.write("in.jsonl", "{\"a\": 0.9, \"b\": \"2\", \"id\": 7}\n\n{\"a\": null, \"b\": 1, \"id\": \"x\"}\n[1]\n")
        let j = mreg(["predict", "lgb@v1", "--data", jl, "--keep", "id", "--on-error", "skip", "--json"], in: reg)
        #expect(j.status == 1)
        #expect(j.stdout == "{\"id\":7,\"model\":\"lgb\",\"prediction\":1.5,\"version\":\"v1\"}\n{\"id\":\"x\",\"model\":\"lgb\",\"prediction\":-0.5,\"version\":\"v1\"}\n")
        #expect(json(j.stderr)["skipped"] as? Int == 1)
        #expect(json(j.stderr)["firstSkip"] as? String == "line 4: not a JSON object")
    }

    @Test func usageErrors() throws {
        let dir = TempDir("e2e-predict")
        defer { dir.remove() }
        let reg = registry(dir)
        registerLightGBM(dir, reg)
        let data = dir.write("in.csv", "a,c\n1,2\n")
        let missing = mreg(["predict", "lgb@v1", "--data", data], in: reg)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no column 'b'"))
        #expect(mreg(["predict", "lgb@v1", "--data", data, "--on-error", "maybe"], in: reg).status == 2)
        #expect(mreg(["predict", "lgb@v9", "--data", data], in: reg).stderr.contains("has no version 'v9'"))
        dir.write("notes/model.pkl", "\u{80}\u{04}pickled\n")
        let unknown = mreg(["register", "notes", "--from", dir.sub("notes")], in: reg)
        #expect(unknown.status == 0)
        #expect(unknown.stdout.contains("Registered notes@v1 (unknown, model.pkl)"), "\(unknown.stdout)")
        #expect(unknown.stdout.contains("note: 'model.pkl' is format unknown: it can be verified, carded, and gated"), "\(unknown.stdout)")
        let none = mreg(["predict", "notes@v1", "--data", data], in: reg)
        #expect(none.isOneLineError)
        #expect(none.stderr.contains("'models/notes/v1/model.pkl' is format 'unknown': no runtime here scores it"), "\(none.stderr)")
        // A stated format the file is not: the runtime's reason, one line, nothing registered.
        let stated = mreg(["register", "notes", "--from", dir.sub("notes"), "--format", "xgboost-json"], in: reg)
        #expect(stated.status == 2 && stated.isOneLineError, "\(stated.stderr)")
        #expect(stated.stderr.contains("'model.pkl' (xgboost-json)"), "\(stated.stderr)")
        #expect(mreg(["register", "notes", "--from", dir.sub("notes"), "--format", "onnx"], in: reg).stderr.contains("--format 'onnx' is not a format"))
    }

    @Test func hostileModelFilesAreRefusedAtRegistration() throws {
        let dir = TempDir("e2e-predict")
        defer { dir.remove() }
        let reg = registry(dir)
        let cases: [(String, String, String)] = [
            ("truncated", String(handLightGBM.prefix(300)), "truncated"),
            ("cycle", handLightGBM.replacingOccurrences(of: "left_child=-1 -2", with: "left_child=-1 0"), "leads back to node 0"),
            ("nan", handLightGBM.replacingOccurrences(of: "threshold=0.25 0", with: "threshold=nan 0"), "not a finite number"),
            ("range", handLightGBM.replacingOccurrences(of: "right_child=1 -3", with: "right_child=1 -30"), "right_child"),
        ]
        for (name, text, expected) in cases {
            dir.write("\(name)/model.txt", text)
            let p = mreg(["register", name, "--from", dir.sub(name)], in: reg)
            #expect(p.status == 2, "\(name)")
            #expect(p.isOneLineError, "\(name): \(p.stderr)")
            #expect(p.stderr.contains("'model.txt' (lightgbm-text)"), "\(name): \(p.stderr)")
            #expect(p.stderr.contains(expected), "\(name): \(p.stderr)")
            #expect(mreg(["show", name], in: reg).status != 0, "\(name) was registered")
        }
    }

    @Test(.enabled(if: PythonEnvironment.available, "needs python3 and pip for the parity venv"))
    func xgboostAgreesWithPython() throws {
        let dir = TempDir("e2e-predict")
        defer { dir.remove() }
        let models = dir.sub("trained")
        let t = PythonEnvironment.runScript("scripts/testing/train_foreign_models.py", [models])
        #expect(t.status == 0, "\(t.stderr)")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: models + "/cases.json"))) as! [String: Any]
        let columns = manifest["columns"] as! [String: [Any]]
        let cases = manifest["cases"] as! [[String: Any]]
        let reg = registry(dir)
        for name in ["xgb-softprob.ubj", "lgb-pandas"] {
            let c = cases.first { $0["name"] as? String == name }!
            let features = c["features"] as! [String]
            try FileManager.default.createDirectory(atPath: dir.sub("v-\(name)"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: models + "/" + (c["file"] as! String), toPath: dir.sub("v-\(name)/" + (c["file"] as! String)))
            let model = name.hasPrefix("xgb") ? "xgb" : "lgb"
            #expect(mreg(["register", model, "--from", dir.sub("v-\(name)")], in: reg).status == 0)
            var lines = [features.joined(separator: ",")]
            for r in 0..<columns[features[0]]!.count {
                lines.append(features.map { f in
                    let v = columns[f]![r]
                    if let d = v as? Double { return "\(d)" }
                    return v as? String ?? ""
                }.joined(separator: ","))
            }
            let csv = dir.write("\(model).csv", lines.joined(separator: "\n") + "\n")
            let p = mreg(["predict", "\(model)@v1", "--data", csv, "--out", dir.sub("\(model)-out.csv"), "--proba"], in: reg)
            #expect(p.status == 0, "\(p.stderr)")
            let rows = try String(contentsOfFile: dir.sub("\(model)-out.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
            let expected = (c["predict"] as! [Any]).map { $0 as! Double }
            let width = model == "xgb" ? 3 : 1
            var worst = 0.0
            for (r, row) in rows.enumerated() {
                let cells = row.split(separator: ",", omittingEmptySubsequences: false)
                for k in 0..<width {
                    let got = Double(cells[model == "xgb" ? 1 + k : 2])!
                    worst = max(worst, abs(got - expected[r * width + k]))
                }
            }
            print("mreg predict \(name): max abs diff \(worst) over \(rows.count) rows")
            #expect(rows.count == columns[features[0]]!.count)
            #expect(worst <= 1e-6)
        }
    }
}
