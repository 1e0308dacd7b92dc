import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MregCore
import MregTestSupport
import Testing

/// `mreg serve --capture` started on 127.0.0.1 with a free port; stopped by SIGTERM.
final class CapturingServer: @unchecked Sendable {
    let process = Process()
    let base: String

    init(store: String, capture: String) throws {
        process.executableURL = URL(fileURLWithPath: mregBinary)
        process.arguments = ["serve", "--store", store, "--port", "0", "--capture", capture, "--capture-percent", "100"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = [UInt8]()
        while true {
            let d = out.fileHandleForReading.readData(ofLength: 1)
            if d.isEmpty || d[d.startIndex] == 0x0A { break }
            line.append(d[d.startIndex])
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on ") else {
            process.terminate()
            throw RegistryTestFailure(message: "mreg serve did not start: '\(text)'")
        }
        base = String(text.dropFirst("listening on ".count))
    }

    /// Sends one inference request; the HTTP status.
    func infer(_ model: String, _ body: String) async throws -> Int {
        var r = URLRequest(url: URL(string: base + "/v2/models/\(model)/infer")!)
        r.httpMethod = "POST"
        r.httpBody = Data(body.utf8)
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: r)
        return (response as! HTTPURLResponse).statusCode
    }

    /// SIGTERM: the server finishes writing its capture records, then exits.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

struct RegistryTestFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The penguins CSV as rows of cells by column name.
struct PenguinRows {
    let header: [String]
    let rows: [[String]]

    init(_ path: String) throws {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        header = lines[0]
        rows = Array(lines.dropFirst())
    }

    func column(_ name: String) -> Int { header.firstIndex(of: name)! }

    /// An Open Inference Protocol request for `rows`; `shift` is added to numeric columns.
    func inferBody(_ rows: [Int], id: String, shift: [String: Double] = [:]) -> String {
        var tensors = [String]()
        for name in ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"] {
            let c = column(name)
            let categorical = name == "island" || name == "sex"
            let values = rows.map { r -> String in
                let cell = self.rows[r][c]
                if cell.isEmpty || cell == "NA" { return "null" }
                return categorical ? "\"\(cell)\"" : "\(Double(cell)! + (shift[name] ?? 0))"
            }
            tensors.append(#"{"name":"\#(name)","datatype":"\#(categorical ? "BYTES" : "FP64")","shape":[\#(rows.count)],"data":[\#(values.joined(separator: ","))]}"#)
        }
        return #"{"id":"\#(id)","inputs":[\#(tensors.joined(separator: ","))]}"#
    }
}

@Suite(.serialized) struct MonitorCLITests {
    /// A registry with penguins v1 from `mreg train`, and a store serving it.
    func setUp(_ dir: TempDir) throws -> (reg: String, store: String) {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        let t = mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species"], in: reg)
        #expect(t.status == 0, "\(t.stderr)")
        let store = dir.sub("store")
        try FileManager.default.createDirectory(atPath: store + "/penguins/v1", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: reg + "/models/penguins/v1/model.json", toPath: store + "/penguins/v1/model.json")
        return (reg, store)
    }

    /// Serves requests of three rows over `rows` with capture on; returns the capture folder.
    func capture(_ dir: TempDir, store: String, name: String, rows: [Int], shift: [String: Double] = [:]) async throws -> String {
        let folder = dir.sub(name)
        let server = try CapturingServer(store: store, capture: folder)
        let data = try PenguinRows(penguinsCSV)
        for start in stride(from: 0, to: rows.count, by: 3) {
            let chunk = Array(rows[start..<min(start + 3, rows.count)])
            let status = try await server.infer("penguins", data.inferBody(chunk, id: "req-\(chunk[0])", shift: shift))
            #expect(status == 200)
        }
        #expect(server.stop() == 0)
        return folder
    }

    @Test func monitorsWhatServeCaptured() async throws {
        let dir = TempDir("e2e-monitor")
        defer { dir.remove() }
        let (reg, store) = try setUp(dir)
        let data = try PenguinRows(penguinsCSV)
        let all = Array(0..<data.rows.count)
        let same = try await capture(dir, store: store, name: "same", rows: all)
        let files = try FileManager.default.contentsOfDirectory(atPath: same)
        #expect(files.count >= 1 && files.allSatisfy { $0.hasPrefix("capture-") && $0.hasSuffix(".jsonl") })

        // In distribution: exit 0.
        let ok = mreg(["monitor", "penguins@v1", "--capture", same], in: reg)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("penguins@v1: \(all.count) rows in"))
        #expect(ok.stdout.hasSuffix("no drift\n"))

        // Ground truth joined on the request id: live accuracy on every row.
        var csv = "request_id,species\n"
        for start in stride(from: 0, to: all.count, by: 3) {
            for r in start..<min(start + 3, all.count) { csv += "req-\(start),\(data.rows[r][data.column("species")])\n" }
        }
        let truth = dir.write("truth.csv", csv)
        let labeled = mreg(["monitor", "penguins@v1", "--capture", same, "--labels", truth, "--id-column", "request_id", "--format", "json"], in: reg)
        #expect(labeled.status == 0, "\(labeled.stdout)\(labeled.stderr)")
        let report = try JSONValue.parse(labeled.stdout)
        #expect(report["accuracy"]?["labeledRows"]?.intValue == all.count)
        #expect((report["accuracy"]?["value"]?.doubleValue ?? 0) > 0.9)
        #expect(report["status"]?.stringValue == "ok")

        // A +1.5σ shift in bill length: exit 1, Markdown with the table and a histogram, the hook run.
        let shifted = try await capture(dir, store: store, name: "shifted", rows: Array(0..<150), shift: ["bill_length_mm": 8.2])
        let md = dir.sub("drift.md")
        let hookOut = dir.sub("hook.txt")
        let drift = mreg(["monitor", "penguins@v1", "--capture", shifted, "--format", "markdown", "--output", md,
                          "--on-drift", "echo \"$MREG_MONITOR_REPORT\" > '\(hookOut)'; exit 3"], in: reg)
        #expect(drift.status == 1, "\(drift.stderr)")
        #expect(drift.stderr == "mreg: error: drift found, see '\(md)'\n")
        let markdown = try String(contentsOfFile: md, encoding: .utf8)
        #expect(markdown.contains("## ❌ mreg monitor penguins@v1"))
        #expect(markdown.contains("### ❌ drift bill_length_mm"))
        #expect(markdown.contains("| statistic | value | threshold | verdict | detail |"))
        #expect(markdown.contains("| meanShift |"))
        #expect(markdown.contains("ran `echo"))
        #expect(markdown.contains("exit status 3"))
        let reportPath = try String(contentsOfFile: hookOut, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let hookReport = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(hookReport["status"]?.stringValue == "drift")

        // monitoring.retrain in mreg.yaml is the default command.
        var yaml = try String(contentsOfFile: reg + "/mreg.yaml", encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "  # retrain: \"...\"", with: "  retrain: \"touch '\(dir.sub("retrained"))'\"")
        try yaml.write(toFile: reg + "/mreg.yaml", atomically: true, encoding: .utf8)
        #expect(git(["commit", "-qam", "retrain on drift"], in: reg).status == 0)
        let configured = mreg(["monitor", "penguins@v1", "--capture", shifted], in: reg)
        #expect(configured.status == 1)
        #expect(FileManager.default.fileExists(atPath: dir.sub("retrained")))
        #expect(configured.stdout.contains("exit status 0"))

        // A window too small to judge: its own exit code, said plainly, so a cron job on a stale
        // model alarms; --allow-empty makes it 0.
        let small = try await capture(dir, store: store, name: "small", rows: Array(0..<12), shift: ["bill_length_mm": 30])
        let few = mreg(["monitor", "penguins@v1", "--capture", small], in: reg)
        #expect(few.status == 3)
        #expect(few.stdout.contains("insufficient data"))
        #expect(few.stderr == "mreg: error: too little data to judge: 12 rows in the window, at least 30 needed (--allow-empty exits 0)\n")
        #expect(mreg(["monitor", "penguins@v1", "--capture", small, "--allow-empty"], in: reg).status == 0)
        let none = mreg(["monitor", "penguins@v1", "--capture", small, "--since", "2099-01-01"], in: reg)
        #expect(none.status == 3, "\(none.stdout) \(none.stderr)")
    }

    /// The loop closed: drift found by the monitor runs the retraining pipeline, which ends in a
    /// promotion branch for people to review — never a deploy.
    @Test func driftTriggersTheRetrainingPipeline() async throws {
        let dir = TempDir("e2e-retrain")
        defer { dir.remove() }
        let (reg, store) = try setUp(dir)
        let shifted = try await capture(dir, store: store, name: "shifted", rows: Array(0..<150), shift: ["bill_length_mm": 8.2])
        let pipeline = dir.write("retrain.yaml", """
            schemaVersion: 1
            name: retrain
            model: penguins
            data: {target: species}
            train: {algorithm: logistic, trials: 2}
            gate:
              accuracy: {min: 0.8}
            promote: {to: staging}
            """)
        let mainBefore = git(["rev-parse", "main"], in: reg).stdout
        let r = mreg(["monitor", "penguins@v1", "--capture", shifted,
                      "--on-drift", "'\(mregBinary)' pipeline run '\(pipeline)' --data '\(penguinsCSV)'"], in: reg)
        #expect(r.status == 1, "drift is still reported: \(r.stderr)")
        #expect(git(["rev-parse", "main"], in: reg).stdout != mainBefore, "the pipeline registered a version")
        #expect(git(["show", "main:models/penguins/v2/version.yaml"], in: reg).stdout.contains("kind: pipeline"))
        #expect(git(["branch", "--list", "promote/penguins-v2-staging"], in: reg).stdout.contains("promote/penguins-v2-staging"))
        #expect(git(["show", "main:deploy/staging.yaml"], in: reg).stdout.contains("models: {}"), "never a deploy")
    }

    @Test func badInputIsOneLineAndExit2() throws {
        let dir = TempDir("e2e-monitor")
        defer { dir.remove() }
        let (reg, _) = try setUp(dir)
        let cap = dir.sub("cap")
        try FileManager.default.createDirectory(atPath: cap, withIntermediateDirectories: true)
        let line = #"{"ts":"2026-11-22T18:00:00.123Z","id":null,"model":"penguins","version":"v1","rows":1,"inputs":{"bill_length_mm":[39.1]},"outputs":{"label":["Adelie"]}}"#
        dir.write("cap/capture-1.jsonl", String(repeating: line + "\n", count: 5))
        dir.write("ids.csv", "id,species\nreq-1,Adelie\n")
        // A version registered from files, not trained: no baseline.json.
        dir.write("art/model.bin", "x")
        #expect(mreg(["register", "penguins", "--from", dir.sub("art")], in: reg).status == 0)
        let cases: [([String], String)] = [
            (["monitor", "penguins@v1", "--capture", cap, "--format", "xml"], "--format must be text, json or markdown, not 'xml'"),
            (["monitor", "penguins@v1", "--capture", cap, "--since", "last tuesday"], "--since 'last tuesday' is not a time"),
            (["monitor", "penguins@v1", "--capture", cap, "--labels", dir.sub("ids.csv"), "--id-column", "request_id"],
             "ids.csv: no column 'request_id' (columns: 'id', 'species')"),
            (["monitor", "penguins@v1", "--capture", penguinsCSV], "is not a JSON Lines capture file (penguins.csv line 1: not a JSON object"),
            (["monitor", "penguins@v1", "--capture", dir.sub("nowhere")], "--capture '\(dir.sub("nowhere"))' does not exist"),
            (["monitor", "penguins@v2", "--capture", cap], "penguins@v2 has no baseline.json"),
            (["monitor", "penguins@v7", "--capture", cap], "model 'penguins' has no version 'v7'"),
            (["monitor", "penguins@v1"], "missing --capture"),
            (["monitor", "penguins@v1", "--capture", cap, "--labels", dir.sub("ids.csv")], "--labels needs --id-column"),
        ]
        for (args, message) in cases {
            let r = mreg(args, in: reg)
            #expect(r.status == 2, "\(args): \(r.stdout) \(r.stderr)")
            #expect(r.isOneLineError, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
