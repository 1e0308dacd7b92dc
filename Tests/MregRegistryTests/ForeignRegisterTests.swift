import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

@testable import MregRegistry

/// Registering models made elsewhere: the format and artifact recorded, inputs, task and baseline.
@Suite struct ForeignRegisterTests {
    /// Rows the hand-made LightGBM model scores: y is exactly its prediction.
    static let train = "a,b,y\n0.1,1,-0.5\n0.9,1,0.75\n0.9,2,1.5\n0.2,2,-0.5\n0.7,0,1.5\n"

    @Test func lightGBMRecordsFormatTaskAndBaseline() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let data = dir.write(".art/train.csv", Self.train)
        var c = content(["lgb.txt": handLightGBM])
        c.target = "y"
        c.trainingData = data
        let r = try registry.register(model: "lgb", content: c, message: nil)
        #expect(r.record.format == "lightgbm-text")
        #expect(r.record.artifact == "lgb.txt")
        #expect(r.record.task == "regression")
        #expect(r.record.target == "y")
        #expect(r.note == nil)
        #expect(r.record.data.first?.role == "train")
        #expect(r.record.files.map(\.path) == ["baseline.json", "lgb.txt"])
        let text = try registry.head().text("models/lgb/v1/version.yaml")!
        #expect(text.contains("format: lightgbm-text\nartifact: lgb.txt\n"), "\(text)")
        #expect(try VersionRecord.parse(text, file: "version.yaml") == r.record)
        let spec = try registry.head().modelSpecIfPresent("lgb")
        #expect(spec?.task == "regression" && spec?.target == "y")
        let baseline = try BaselineFile(data: try registry.head().data("models/lgb/v1/baseline.json")!, file: "baseline.json")
        #expect(baseline.features.map(\.name) == ["a", "b"])
        #expect(baseline.target?.name == "y")
        // Evaluation goes through the runtime: the labels are the model's own predictions.
        let report = try registry.evaluate(ModelReference(model: "lgb", target: .version("v1")), data: data, environment: nil)
        #expect(report.metrics["r2"] == 1)
        #expect(report.rows == 5)
    }

    @Test func unknownFormatsRegisterWithANote() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let r = try registry.register(model: "sk", content: content(["model.pkl": "\u{80}\u{04}pickle", "README.md": "x"]), message: nil)
        #expect(r.record.format == "unknown")
        #expect(r.record.artifact == "model.pkl")
        #expect(r.note?.contains("'model.pkl' is format unknown") == true)
        #expect(throws: RegistryError.invalidInput("invalid model artifact: 'models/sk/v1/model.pkl' is format 'unknown': no runtime here scores it")) {
            try registry.loadScorer(ModelReference(model: "sk", target: .version("v1")))
        }
        // Evaluated on data, it is judged on its recorded metrics, and the report says so.
        let data = dir.write(".art/e.csv", Self.train)
        let report = try registry.evaluate(ModelReference(model: "sk", target: .version("v1")), data: data, environment: nil)
        #expect(report.source == "recorded test metrics (format unknown: not scored on data)")
        #expect(throws: RegistryError.invalidInput("sk@v1 is format unknown: it cannot be scored on data, so there is nothing to record")) {
            try registry.evaluate(ModelReference(model: "sk", target: .version("v1")), data: data, environment: nil, record: true)
        }
        var withData = content(["model.pkl": "x"])
        withData.trainingData = dir.write(".art/t.csv", Self.train)
        withData.target = "y"
        #expect(throws: (any Error).self) { try registry.register(model: "sk", content: withData, message: nil) }
    }

    @Test func featureNamesFromOptionsOrModelYAML() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let anonymous = handLightGBM.replacingOccurrences(of: "feature_names=a b\n", with: "")
        var c = content(["m.txt": anonymous])
        c.featureNames = ["x1", "x2"]
        let r = try registry.register(model: "anon", content: c, message: nil)
        #expect(r.record.features == ["x1", "x2"])
        let loaded = try registry.loadScorer(ModelReference(model: "anon", target: .version("v1")))
        #expect(loaded.scorer.features.map(\.name) == ["x1", "x2"])
        #expect(loaded.scorer.features.map(\.type) == [.numeric, .categorical])
        // Without --features, model.yaml's features name them.
        let again = try registry.register(model: "anon", content: content(["m.txt": anonymous]), message: nil)
        #expect(again.record.features == ["x1", "x2"])
        // Wrong counts and names that contradict the file are errors.
        var wrong = content(["m.txt": anonymous])
        wrong.featureNames = ["x1"]
        #expect(throws: RegistryError.invalidInput("'m.txt': invalid model artifact: 1 feature names given, the model has 2 features (from --features)")) {
            try registry.register(model: "anon2", content: wrong, message: nil)
        }
        var contradict = content(["lgb.txt": handLightGBM])
        contradict.featureNames = ["b", "a"]
        #expect(throws: RegistryError.invalidInput("'lgb.txt' names its features (a, b); --features or model.yaml list b, a")) {
            try registry.register(model: "named", content: contradict, message: nil)
        }
    }

    @Test func stateTaskMustAgreeAndHostileFilesAreRefused() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let spec = ModelSpec(name: "lgb", task: "classification")
        #expect(throws: RegistryError.invalidInput("model.yaml says task 'classification' but 'lgb.txt' (lightgbm-text) does regression")) {
            try registry.register(model: "lgb", content: content(["lgb.txt": handLightGBM]), modelSpec: spec, message: nil)
        }
        let truncated = String(handLightGBM.prefix(300))
        do {
            _ = try registry.register(model: "bad", content: content(["model.txt": truncated]), message: nil)
            Issue.record("a truncated model registered")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("invalid model artifact: 'model.txt' (lightgbm-text):"), "\(text)")
            #expect(!text.contains("\n"))
        }
        #expect(try registry.head().versionNames("bad").isEmpty)
    }

    @Test func versionsWithoutAFormatAreRecognisedByContent() throws {
        // A version registered before version.yaml recorded `format`: loadScorer falls back to detection.
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let r = try registry.register(model: "old", content: content(["lgb.txt": handLightGBM]), message: nil)
        var legacy = r.record
        legacy.format = nil
        legacy.artifact = nil
        let repo = registry.repository
        let tip = try repo.referenceTarget("refs/heads/main")!
        try repo.commit(
            changes: ["models/old/v1/version.yaml": .blob(try repo.writeBlob(Data(legacy.render().utf8)))],
            onBranch: "refs/heads/main", parent: tip, message: "an old version", identity: try registry.identity())
        #expect(!(try registry.head().text("models/old/v1/version.yaml")!).contains("format:"))
        let loaded = try registry.loadScorer(ModelReference(model: "old", target: .version("v1")))
        #expect(loaded.file == "lgb.txt")
        #expect(loaded.scorer.format == .lightgbmText)
    }

    @Test func recordedFormatsAreTheRuntimeFormats() {
        #expect(VersionRecord.nativeFormats == ModelFormat.allCases.map(\.rawValue))
        #expect(VersionRecord.formats == VersionRecord.nativeFormats + ["sklearn", "mlflow", VersionRecord.unknownFormat])
    }
}
