import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

@testable import MregRegistry

/// Capture files in the format `mreg serve --capture` writes, made from CSV rows.
enum Captures {
    static let penguinsCSV = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("templates/files/data/penguins.csv").path

    static let penguins: Table = try! Table.readCSV(at: URL(fileURLWithPath: penguinsCSV))

    static let features = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]
    static let categorical: Set<String> = ["island", "sex"]

    /// One record line for `rows` of the table; `shift` adds to numeric columns by name.
    static func record(model: String = "penguins", version: String = "v1", rows: [Int], id: String? = nil,
                       ts: String = "2026-11-22T18:00:00.123Z", shift: [String: Double] = [:], labels: [String]? = nil) -> String {
        var inputs = [String]()
        for name in features {
            let column = penguins.column(name)!
            let values: [String] = rows.map { r in
                guard let text = column[r] else { return "null" }
                if categorical.contains(name) { return JSONValue.string(text).encodedString() }
                let v = Double(text)! + (shift[name] ?? 0)
                return v == v.rounded() ? String(format: "%.1f", v) : "\(v)"
            }
            inputs.append("\"\(name)\":[\(values.joined(separator: ","))]")
        }
        let predicted = labels ?? rows.map { penguins.column("species")![$0]! }
        let outputs = "{\"label\":[\(predicted.map { JSONValue.string($0).encodedString() }.joined(separator: ","))],\"probabilities\":[]}"
        let idText = id.map { JSONValue.string($0).encodedString() } ?? "null"
        return "{\"ts\":\"\(ts)\",\"id\":\(idText),\"model\":\"\(model)\",\"version\":\"\(version)\",\"rows\":\(rows.count),\"inputs\":{\(inputs.joined(separator: ","))},\"outputs\":\(outputs)}"
    }

    /// `count` rows drawn at random (the file is sorted by species and sex alternates).
    static func sample(_ count: Int, seed: UInt64) -> [Int] {
        var g = SeededGenerator(seed: seed)
        return Array((0..<penguins.rowCount).shuffled(using: &g).prefix(count))
    }

    /// Records of a few rows each over `rows`, one line each.
    static func lines(_ rows: [Int], perRecord: Int = 3, shift: [String: Double] = [:], idPrefix: String? = nil) -> [String] {
        stride(from: 0, to: rows.count, by: perRecord).enumerated().map { (i, start) in
            record(rows: Array(rows[start..<min(start + perRecord, rows.count)]), id: idPrefix.map { "\($0)\(i)" }, shift: shift)
        }
    }
}

@Suite(.serialized) struct MonitorTests {
    /// A registry with penguins v1 trained on every penguins row (species from the rest).
    static func trained() throws -> (TempDir, Registry) {
        let dir = TempDir("mreg-monitor")
        let registry = try makeRegistry(dir)
        var options = TrainOptions(model: "penguins", data: Captures.penguinsCSV, target: "species")
        options.algorithm = .logistic
        _ = try registry.train(options)
        return (dir, registry)
    }

    func monitor(_ registry: Registry, _ captures: [String], since: Int64? = nil, labels: String? = nil, idColumn: String? = nil) throws -> MonitorReport {
        try registry.monitor(MonitorOptions(
            reference: try ModelReference(parsing: "penguins@v1"), captures: captures, sinceMillis: since, labels: labels, idColumn: idColumn))
    }

    @Test func inDistributionPassesAndShiftFails() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        let all = Array(0..<Captures.penguins.rowCount)
        dir.write("same/capture-1.jsonl", Captures.lines(all).joined(separator: "\n") + "\n")
        let same = try monitor(registry, [dir.sub("same")])
        #expect(same.window.rows == all.count && same.window.files == 1)
        #expect(same.status == .ok, "\(same.text)")
        #expect(!same.failed)
        #expect(same.features.map(\.name) == Captures.features)

        // +1 training standard deviation in one feature.
        let std = same.features.first { $0.name == "bill_length_mm" }!.checks.first { $0.name == "meanShift" }!
        #expect(abs(std.value) < 0.2)
        let bill = Captures.penguins.numericColumn("bill_length_mm")!.filter(\.isFinite)
        let sd = (bill.map { ($0 - bill.reduce(0, +) / Double(bill.count)) * ($0 - bill.reduce(0, +) / Double(bill.count)) }.reduce(0, +) / Double(bill.count - 1)).squareRoot()
        dir.write("shifted/capture-1.jsonl", Captures.lines(Captures.sample(150, seed: 1), shift: ["bill_length_mm": sd * 1.3]).joined(separator: "\n") + "\n")
        let shifted = try monitor(registry, [dir.sub("shifted")])
        #expect(shifted.failed)
        #expect(shifted.drifted.map(\.name) == ["bill_length_mm"])
        #expect(Set(shifted.drifted[0].failed.map(\.name)) == ["ks", "meanShift"])
        #expect(!shifted.datasetDrift)
        // The reports show it.
        #expect(shifted.text.contains("DRIFT: 1 of 7 features drifted (bill_length_mm)"))
        let md = shifted.render(.markdown)
        #expect(md.contains("## ❌ mreg monitor penguins@v1"))
        #expect(md.contains("### ❌ drift bill_length_mm"))
        #expect(md.contains("| ks |") && md.contains("baseline") && md.contains("#") && md.contains("*"))
        let json = try JSONValue.parse(shifted.render(.json))
        #expect(json["status"]?.stringValue == "drift")
        #expect(json["features"]?.arrayValue?.count == 7)
        #expect(json["dataset"]?["drifted"]?.intValue == 1)
    }

    @Test func readsOnlyThisVersionAndSurvivesBadLines() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        var lines = Captures.lines(Array(0..<90))
        lines.insert(Captures.record(model: "other", rows: [0, 1]), at: 3)
        lines.insert(Captures.record(version: "v9", rows: [0, 1]), at: 5)
        lines.insert("{\"ts\": \"2026-11-22T18:00:00Z\", \"model\": \"penguins\"", at: 7)
        lines.insert("{\"model\":\"penguins\",\"version\":\"v1\",\"rows\":2,\"inputs\":{\"bill_length_mm\":[1.0]}}", at: 9)
        lines.insert("", at: 10)
        let text = lines.joined(separator: "\n") + "\n" + Captures.record(rows: [1, 2, 3]).prefix(60)
        dir.write("cap/capture-a.jsonl", text)
        dir.write("cap/notes.txt", "not read: not .jsonl")
        let report = try monitor(registry, [dir.sub("cap")])
        #expect(report.window.rows == 90)
        #expect(report.window.otherRecords == 2)
        #expect(report.window.malformedLines == 2)
        #expect(report.window.partialLines == 1)
        #expect(report.window.firstMalformed?.hasPrefix("capture-a.jsonl line 8: ") == true)
        #expect(report.text.contains("skipped: 2 malformed lines"))
        // Rows of a malformed record are not half-counted.
        #expect(report.features.first { $0.name == "bill_length_mm" }!.rows == 90)
    }

    @Test func smallWindowsAreNeitherPassNorFail() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        let file = dir.write("small.jsonl", Captures.lines(Array(0..<12), shift: ["bill_length_mm": 30]).joined(separator: "\n") + "\n")
        let report = try monitor(registry, [file])
        #expect(report.status == .insufficient)
        #expect(!report.failed)
        #expect(report.features.allSatisfy { $0.status == .insufficient })
        #expect(report.text.contains("insufficient data"))
        // An empty folder too.
        try FileManager.default.createDirectory(atPath: dir.sub("empty"), withIntermediateDirectories: true)
        #expect(try monitor(registry, [dir.sub("empty")]).status == .insufficient)
    }

    @Test func sinceKeepsNewerRecords() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        let old = (0..<20).map { Captures.record(rows: [$0 * 3, $0 * 3 + 1, $0 * 3 + 2], ts: "2026-11-20T10:00:00.000Z") }
        let new = (0..<20).map { Captures.record(rows: [$0 * 3 + 100, $0 * 3 + 101], ts: "2026-11-22T10:00:00.500Z") }
        let file = dir.write("c.jsonl", (old + new).joined(separator: "\n") + "\n")
        let since = try Registry.parseSince("2026-11-21")
        let report = try monitor(registry, [file], since: since)
        #expect(report.window.rows == 40 && report.window.beforeSince == 20)
        #expect(MonitorReport.time(report.window.firstMillis) == "2026-11-22T10:00:00Z")
        #expect(try Registry.parseSince("2026-11-22T10:00:00.5Z") == since + 34 * 3_600_000 + 500)
        #expect(try Registry.parseSince("24h", now: Date(timeIntervalSince1970: 100_000)) == (100_000 - 86_400) * 1000)
        #expect(try Registry.parseSince("2026-11-22T11:00:00+01:00") == since + 34 * 3_600_000)
        #expect(throws: RegistryError.self) { try Registry.parseSince("yesterday") }
    }

    @Test func liveAccuracyFromLabels() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        let rows = Array(0..<60)
        // Predictions recorded as the true species for the first 45 rows, wrong for the rest.
        var lines = [String]()
        var csv = "request_id,species\n"
        for r in rows {
            let truth = Captures.penguins.column("species")![r]!
            lines.append(Captures.record(rows: [r], id: "req-\(r)", labels: [r < 45 ? truth : "Gentoo-not"]))
            csv += "req-\(r),\(truth)\n"
        }
        csv += "req-unknown,Adelie\n"
        let file = dir.write("c.jsonl", lines.joined(separator: "\n") + "\n")
        let labels = dir.write("truth.csv", csv)
        let report = try monitor(registry, [file], labels: labels, idColumn: "request_id")
        let a = try #require(report.accuracy)
        #expect(a.metric == "accuracy" && a.labeledRows == 60 && a.unmatchedLabels == 1)
        #expect(abs(a.value! - 0.75) < 1e-12)
        #expect(a.status == .drift && report.failed)
        #expect(report.text.contains("live accuracy 0.7500 on 60 labeled rows (floor 0.8000): FAIL"))

        let bad = dir.write("bad.csv", "id,species\nreq-1,Adelie\n")
        let error = #expect(throws: RegistryError.self) { try monitor(registry, [file], labels: bad, idColumn: "request_id") }
        #expect(error?.description == "bad.csv: no column 'request_id' (columns: 'id', 'species')")
    }

    @Test func liveRMSEForRegression() throws {
        let dir = TempDir("mreg-monitor")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        var options = TrainOptions(model: "mass", data: Captures.penguinsCSV, target: "body_mass_g")
        options.task = .regression
        _ = try registry.train(options)
        var yaml = try String(contentsOfFile: dir.sub("mreg.yaml"), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "  accuracyFloor: 0.8", with: "  accuracyFloor: 0.8\n  rmseCeiling: 150")
        try yaml.write(toFile: dir.sub("mreg.yaml"), atomically: true, encoding: .utf8)
        _ = run("git", ["-C", dir.path, "commit", "-qam", "rmse ceiling"], environment: testEnvironment)
        // Predictions 100 g (then 200 g) off the truth: RMSE 100 passes a ceiling of 150, 200 fails it.
        let rows = Captures.sample(60, seed: 3).filter { Captures.penguins.column("body_mass_g")![$0] != nil }
        var csv = "rid,body_mass_g\n"
        var near = [String](), far = [String]()
        for r in rows {
            let truth = Double(Captures.penguins.column("body_mass_g")![r]!)!
            csv += "r\(r),\(truth)\n"
            for (offset, out) in [(100.0, 0), (200.0, 1)] {
                let line = Captures.record(model: "mass", rows: [r], id: "r\(r)")
                    .replacingOccurrences(of: #"{"label":["# + "\"" + Captures.penguins.column("species")![r]! + "\"" + #"],"probabilities":[]}"#,
                                          with: "{\"value\":[\(truth + offset)]}")
                if out == 0 { near.append(line) } else { far.append(line) }
            }
        }
        let labels = dir.write("truth.csv", csv)
        func report(_ lines: [String]) throws -> MonitorReport {
            let file = dir.write("c.jsonl", lines.joined(separator: "\n") + "\n")
            return try registry.monitor(MonitorOptions(
                reference: try ModelReference(parsing: "mass@v1"), captures: [file], labels: labels, idColumn: "rid"))
        }
        let ok = try #require(try report(near).accuracy)
        #expect(ok.metric == "rmse" && ok.labeledRows == rows.count && abs(ok.value! - 100) < 1e-9 && ok.status == .ok)
        let bad = try report(far)
        #expect(bad.accuracy?.status == .drift && bad.failed)
        #expect(bad.text.contains("live rmse 200.0000 on \(rows.count) labeled rows (ceiling 150.0000): FAIL"))
    }

    @Test func clearErrors() throws {
        let (dir, registry) = try Self.trained()
        defer { dir.remove() }
        let csv = try #require(#expect(throws: RegistryError.self) { try monitor(registry, [Captures.penguinsCSV]) })
        #expect(csv.description.hasPrefix("'\(Captures.penguinsCSV)' is not a JSON Lines capture file (penguins.csv line 1: not a JSON object"))
        let missing = try #require(#expect(throws: RegistryError.self) { try monitor(registry, [dir.sub("nope")]) })
        #expect(missing.description == "--capture '\(dir.sub("nope"))' does not exist")
        // A version registered from an external trainer has no baseline.json.
        _ = try registry.register(model: "penguins", content: content(["model.bin": "x"]), modelSpec: nil, message: nil) { _ in }
        let file = dir.write("c.jsonl", Captures.lines(Array(0..<40)).joined(separator: "\n") + "\n")
        let noBaseline = try #require(#expect(throws: RegistryError.self) {
            try registry.monitor(MonitorOptions(reference: try ModelReference(parsing: "penguins@v2"), captures: [file]))
        })
        #expect(noBaseline.description.hasPrefix("penguins@v2 has no baseline.json"))
    }

    @Test func thresholdsComeFromMregYAML() throws {
        let config = try RegistryConfig.parse("schemaVersion: 1\nname: x\nmonitoring:\n  kSigma: 2\n  chiSquareAlpha: 0.05\n  minRows: 10\n")
        #expect(config.monitoring.kSigma == 2 && config.monitoring.chiSquareAlpha == 0.05 && config.monitoring.minRows == 10)
        #expect(throws: CoreError.self) { try RegistryConfig.parse("schemaVersion: 1\nname: x\nmonitoring:\n  kSigmaa: 2\n") }
        #expect(throws: CoreError.self) { try RegistryConfig.parse("schemaVersion: 1\nname: x\nmonitoring:\n  chiSquareAlpha: 2\n") }
        let rendered = try RegistryConfig.parse(RegistryConfig.defaults(name: "x").render())
        #expect(rendered.monitoring == MonitoringConfig())
    }
}
