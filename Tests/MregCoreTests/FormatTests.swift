import Foundation
import Testing

@testable import MregCore

@Suite struct NameTests {
    @Test(arguments: ["penguins", "a", "0", "churn-v2", "x.y_z", String(repeating: "a", count: 64)])
    func validModelNames(name: String) { #expect(Names.isValidModelName(name)) }

    @Test(arguments: [
        "", "Penguins", "-a", ".a", "_a", "a/b", "..", "../etc", "/abs", "a b", "a@b", "é", String(repeating: "a", count: 65),
        "a\u{0}", "a\n",
    ])
    func invalidModelNames(name: String) {
        #expect(!Names.isValidModelName(name))
        #expect(throws: CoreError.self) { try Names.model(name) }
    }

    @Test func versions() {
        #expect(Names.versionNumber("v1") == 1)
        #expect(Names.versionNumber("v120") == 120)
        for bad in ["v0", "v01", "1", "v", "V1", "v1a", "v-1", "v99999999999"] { #expect(Names.versionNumber(bad) == nil, "\(bad)") }
    }

    @Test func filePaths() {
        for good in ["model.json", "a/b/c.bin", "weights-1.0_x"] { #expect(Names.isValidFilePath(good)) }
        for bad in ["", "/abs", "../x", "a/../b", "a//b", "./a", "a b", "a/", "é.json", "a\\b", String(repeating: "a/", count: 9) + "x"] {
            #expect(!Names.isValidFilePath(bad), "\(bad)")
        }
    }

    @Test func references() throws {
        #expect(try ModelReference(parsing: "penguins@v3") == ModelReference(model: "penguins", target: .version("v3")))
        #expect(try ModelReference(parsing: "penguins@production") == ModelReference(model: "penguins", target: .environment("production")))
        for bad in ["penguins", "penguins@", "@v1", "p@v0", "p@v01", "P@v1", "a@b@c", "../x@v1", "p@../../etc"] {
            #expect(throws: CoreError.self, "\(bad)") { try ModelReference(parsing: bad) }
        }
    }
}

@Suite struct YAMLTests {
    @Test func scalarsResolve() throws {
        let v = try YAML.parse("a: 1\nb: 0.95\nc: true\nd: null\ne: text\nf: '1'\ng: 1e-05\nh: v3\n", file: "x.yaml")
        #expect(v == ["a": 1, "b": 0.95, "c": true, "d": nil, "e": "text", "f": "1", "g": 1e-05, "h": "v3"])
    }

    @Test func rejectsHostileYAML() {
        #expect(throws: CoreError.self) { try YAML.parse("a: [1, 2\n", file: "x.yaml") }
        #expect(throws: CoreError.self) { try YAML.parse("a: 1\na: 2\n", file: "x.yaml") }
        // A billion laughs: aliases expanding exponentially stop at the node budget.
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 { laughs += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: CoreError.self) { try YAML.parse(laughs, file: "x.yaml") }
        #expect(throws: CoreError.self) { try YAML.parse(Data([0x61, 0x3A, 0x20, 0xFF]), file: "x.yaml") }
        #expect(throws: CoreError.self) { try YAML.parse(Data(count: YAML.maxSize + 1), file: "x.yaml") }
        #expect(throws: CoreError.self) { try YAML.parse("a: .inf\n", file: "x.yaml") }
    }

    @Test func writerRoundTripsAwkwardStrings() throws {
        let strings = [
            "", "yes", "no", "null", "true", "1", "1.5", "2026-01-01", "a: b", "#x", "- x", "x #y", " lead", "trail ",
            "quote\"s", "new\nline", "tab\t", "ümlaut", "Ada <ada@example.com>", "v3", "[x]", "{y}", "*z", "&a", "!t", "|", ">",
            "@at", "%p", "`b`", "a,b", "0x1F", "1e5", "~", ".nan", "NULL", "on", "Off", "12:30",
        ]
        let doc = YAMLNode.map(strings.enumerated().map { ("k\($0.offset)", .string($0.element)) })
        let back = try YAML.parse(doc.render(), file: "x.yaml")
        for (i, s) in strings.enumerated() { #expect(back["k\(i)"] == .string(s), "\(s)") }
    }

    @Test func writerShapes() {
        let doc = YAMLNode.map([
            ("a", .list([.map([("x", .int(1)), ("w", .list([]))]), .string("s")])), ("b", .map([])), ("c", .number(0.95)),
        ])
        #expect(doc.render() == "a:\n  - x: 1\n    w: []\n  - s\nb: {}\nc: 0.95\n")
    }
}

@Suite struct RegistryFileTests {
    @Test func defaultConfigRoundTrips() throws {
        let config = RegistryConfig.defaults(name: "demo")
        #expect(try RegistryConfig.parse(config.render()) == config)
        #expect(config.environment("production")?.promoteFrom == "staging")
        #expect(config.environment("production")?.gates.rules(forTask: "classification").first?.maxDrop == 0.01)
    }

    @Test func configErrorsNameFileAndField() {
        let cases: [(String, String)] = [
            ("schemaVersion: 2\nname: x\n", "mreg.yaml: field 'schemaVersion' is 2, but this mreg reads schemaVersion 1"),
            ("name: x\n", "mreg.yaml: field 'schemaVersion' is missing"),
            ("schemaVersion: 1\nname: x\ncolour: red\n", "mreg.yaml: field 'colour' is not a known field"),
            ("schemaVersion: 1\nname: x\nenvironments:\n  - name: Prod\n", "mreg.yaml: field 'environments[0].name' 'Prod' is not a valid environment name"),
            ("schemaVersion: 1\nname: x\nenvironments:\n  - name: v2\n", "mreg.yaml: field 'environments[0].name' 'v2' is not a valid environment name"),
            ("schemaVersion: 1\nname: x\nenvironments:\n  - name: a\n    gates:\n      metrics:\n        accuracy: {min: high}\n",
             "mreg.yaml: field 'environments[0].gates.metrics.accuracy.min' must be a number, found string"),
            ("schemaVersion: 1\nname: x\nenvironments:\n  - name: a\n    gates:\n      require: [blessing]\n",
             "mreg.yaml: field 'environments[0].gates.require[0]' 'blessing' is not a known requirement"),
            ("schemaVersion: 1\nname: x\nenvironments:\n  - name: a\n    promoteFrom: b\n", "mreg.yaml: field 'environments[0].promoteFrom' 'b' is not an environment listed before 'a'"),
            ("schemaVersion: 1\nname: x\nmonitoring:\n  kSigma: -1\n", "mreg.yaml: field 'monitoring.kSigma' must be greater than 0"),
            ("- a\n", "mreg.yaml: expected a mapping at the top, found array"),
        ]
        for (text, expected) in cases {
            do {
                _ = try RegistryConfig.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
    }

    @Test func manifests() throws {
        let m = Manifest(environment: "production", models: [
            "b": Deployment(version: "v2", canary: Canary(version: "v3", weight: 10), hosts: ["h1", "h-2"]),
            "a": Deployment(version: "v1"),
        ])
        let text = m.render()
        #expect(text == """
            schemaVersion: 1
            environment: production
            models:
              a:
                version: v1
              b:
                version: v2
                canary:
                  version: v3
                  weight: 10
                hosts:
                  - h1
                  - h-2

            """)
        #expect(try Manifest.parse(text, file: "deploy/production.yaml", expectedEnvironment: "production") == m)
        #expect(try Manifest.parse(Manifest(environment: "staging").render(), file: "s").models.isEmpty)
        let bad: [(String, String)] = [
            ("schemaVersion: 1\nenvironment: staging\nmodels: {}\n", "field 'environment' is 'staging' but the file is for 'production'"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  a: {version: 3}\n", "field 'models.a.version' must be a string"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  a: {version: v0}\n", "field 'models.a.version' 'v0' is not a version"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  ../x: {version: v1}\n", "field 'models.../x' is not a valid model name"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  a: {version: v1, canary: {version: v2, weight: 101}}\n", "field 'models.a.canary.weight' must be between 0 and 100"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  a: {version: v1, replicas: 3}\n", "field 'models.a.replicas' is not a known field"),
            ("schemaVersion: 1\nenvironment: production\nmodels:\n  a: {version: v1, hosts: ['a b']}\n", "field 'models.a.hosts' 'a b' is not a valid host name"),
        ]
        for (text, expected) in bad {
            #expect(throws: CoreError.self) { try Manifest.parse(text, file: "deploy/production.yaml", expectedEnvironment: "production") }
            do { _ = try Manifest.parse(text, file: "deploy/production.yaml", expectedEnvironment: "production") } catch {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
    }

    @Test func versionRecordRoundTripsAndRejectsTraversal() throws {
        var r = VersionRecord(
            model: "penguins", version: "v3", created: "2026-11-22T18:00:00Z", author: "Ada <ada@example.com>",
            source: VersionSource(kind: "train", command: "mreg train penguins --data 'a b.csv'", trainer: "logistic", trainerVersion: "0.1.0"))
        r.seed = 42
        r.params = ["C": 1.0, "max_iter": 100]
        r.data = [DataFingerprint(role: "train", path: "penguins.csv", sha256: String(repeating: "a", count: 64), rows: 344, columns: ["x", "y"])]
        r.trials = [TrialSummary(params: ["C": 0.5], metrics: ["accuracy": 0.9], seconds: 0.0123)]
        r.bestTrial = 0
        r.files = [VersionFile(path: "model.json", size: 10, sha256: String(repeating: "b", count: 64))]
        let back = try VersionRecord.parse(r.render(), file: "version.yaml")
        #expect(back.files == r.files)
        #expect(back.params == r.params)
        #expect(back.seed == 42)
        #expect(back.trials.first?.seconds == 0.012)
        #expect(back.data == r.data)
        let text = r.render()
        for (from, to) in [("path: model.json", "path: ../model.json"), ("path: model.json", "path: /etc/passwd"),
                           ("path: model.json", "path: card.md"), ("sha256: bbbb", "sha256: BBBB"), ("version: v3", "version: latest")] {
            #expect(throws: CoreError.self, "\(to)") { try VersionRecord.parse(text.replacingOccurrences(of: from, with: to), file: "version.yaml") }
        }
        #expect(throws: CoreError.self) { try VersionRecord.parse(text + "extra: 1\n", file: "version.yaml") }
    }

    @Test func metricsFiles() throws {
        let m = MetricsFile(splits: ["test": ["accuracy": 0.95, "log_loss": 0.1], "validation": ["accuracy": 0.9]])
        #expect(String(decoding: m.encoded(), as: UTF8.self).contains("\"accuracy\": 0.95"))
        #expect(try MetricsFile.parse(m.encoded(), file: "metrics.json") == m)
        #expect(try MetricsFile.parseInput(Data(#"{"accuracy": 0.9}"#.utf8), file: "m.json").splits == ["test": ["accuracy": 0.9]])
        #expect(throws: CoreError.self) { try MetricsFile.parse(Data(#"{"schemaVersion":1,"splits":{"test":{"acc"#.utf8), file: "m") }
        #expect(throws: CoreError.self) { try MetricsFile.parseInput(Data(#"{"accuracy": "high"}"#.utf8), file: "m") }
        #expect(throws: CoreError.self) { try MetricsFile.parseInput(Data(#"{"../x": 1}"#.utf8), file: "m") }
        #expect(throws: CoreError.self) { try MetricsFile.parse(Data(#"{"schemaVersion":9,"splits":{}}"#.utf8), file: "m") }
        #expect(m.primary == ["accuracy": 0.95, "log_loss": 0.1])
    }

    @Test func cards() throws {
        let text = "---\nschemaVersion: 1\nowner: ada\nlicense: ''\nmodel-index:\n  - results:\n      - metrics:\n          - {type: accuracy, value: 0.9}\n---\n# Body\n"
        var card = try ModelCard.parse(text, file: "card.md")
        #expect(card.missingFields == ["intended_use", "limitations", "license"])
        #expect(card.statedMetrics == ["accuracy": 0.9])
        card.fields["license"] = "apache-2.0"
        let again = try ModelCard.parse(card.render(), file: "card.md")
        #expect(again.text("license") == "apache-2.0")
        #expect(again.body == "# Body\n")
        #expect(throws: CoreError.self) { try ModelCard.parse("# no front matter\n", file: "card.md") }
        #expect(throws: CoreError.self) { try ModelCard.parse("---\nschemaVersion: 1\n# never closed\n", file: "card.md") }
        #expect(throws: CoreError.self) { try ModelCard.parse("---\nschemaVersion: 1\nfavourite_colour: red\n---\n", file: "card.md") }
        #expect(throws: CoreError.self) { try ModelCard.parse("---\nschemaVersion: 1\nowner: [a]\n---\n", file: "card.md") }
    }
}

@Suite struct MetricsInputTests {
    func parse(_ text: String) throws -> MetricsFile { try MetricsFile.parseInput(Data(text.utf8), file: "m.json") }

    @Test func flatSplitKeyedAndFullFormsAreAllStoredInFull() throws {
        let flat = try parse(#"{"accuracy": 0.9, "f1_macro": 0.8}"#)
        #expect(flat.splits == ["test": ["accuracy": 0.9, "f1_macro": 0.8]])
        let keyed = try parse(#"{"test": {"accuracy": 0.9}, "validation": {"accuracy": 0.95}}"#)
        #expect(keyed.splits == ["test": ["accuracy": 0.9], "validation": ["accuracy": 0.95]])
        #expect(keyed.primary == ["accuracy": 0.9])
        let full = try parse(#"{"schemaVersion": 1, "splits": {"validation": {"r2": 0.5}}}"#)
        #expect(full.splits == ["validation": ["r2": 0.5]])
        // Stored in the full form, which reads back the same.
        #expect(try MetricsFile.parse(keyed.encoded(), file: "metrics.json") == keyed)
    }

    @Test func mixedMalformedAndHostileShapesAreOneLineErrors() {
        for (text, fragment) in [
            (#"{"test": {"accuracy": 0.9}, "accuracy": 0.9}"#, "field 'accuracy' must be an object"),
            (#"{"test": {"accuracy": "high"}}"#, "test.accuracy"),
            (#"{"test": {"Bad Name": 1}}"#, "not a valid metric name"),
            (#"{}"#, "non-empty JSON object"),
            (#"[1, 2]"#, "non-empty JSON object"),
            (#"{"test": {"accuracy": 0.9"#, "invalid JSON"),
            (#"{"splits": {"test": {"accuracy": 1}}}"#, "schemaVersion"),
        ] {
            #expect {
                try parse(text)
            } throws: { error in
                let message = "\(error)"
                return message.contains(fragment) && !message.contains("\n")
            }
        }
    }
}
