import Foundation
import MregCore
import MregTestSupport
import Testing

@testable import MregML

/// XGBoost and LightGBM models trained by the real libraries (scripts/testing/train_foreign_models.py, once
/// per test run into a temporary folder), with the libraries' own predictions on unseen rows.
enum ForeignModels {
    struct Case {
        var file: String
        var format: ModelFormat
        var features: [String]
        var output: String
        var predict: [Double]
        var margin: [Double]
    }

    struct Fixture {
        var folder: String
        var columns: [String: JSONValue]
        var cases: [String: Case]
    }

    static let fixture: Result<Fixture, PythonEnvironment.SetupFailure> = {
        guard case .success = PythonEnvironment.interpreter else {
            return .failure(.init(description: PythonEnvironment.unavailableReason))
        }
        let dir = TempDir("mreg-foreign-models")
        let r = PythonEnvironment.runScript("scripts/testing/train_foreign_models.py", [dir.path])
        guard r.status == 0 else { return .failure(.init(description: "training failed: \(r.stderr.suffix(2000))")) }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: dir.sub("cases.json"))),
              let json = try? JSONValue.parse(data), let columns = json["columns"]?.objectValue,
              let list = json["cases"]?.arrayValue else {
            return .failure(.init(description: "cannot read \(dir.sub("cases.json"))"))
        }
        var cases = [String: Case]()
        for item in list {
            let numbers = { (key: String) in (item[key]?.arrayValue ?? []).map { $0.doubleValue ?? .nan } }
            cases[item["name"]?.stringValue ?? ""] = Case(
                file: item["file"]?.stringValue ?? "", format: ModelFormat(rawValue: item["format"]?.stringValue ?? "")!,
                features: (item["features"]?.arrayValue ?? []).compactMap(\.stringValue),
                output: item["output"]?.stringValue ?? "", predict: numbers("predict"), margin: numbers("margin"))
        }
        return .success(Fixture(folder: dir.path, columns: columns, cases: cases))
    }()

    /// The unseen rows as model input: numbers (null is missing) or, for text columns, labels.
    static func input(_ fixture: Fixture, features: [String], textCategories: Bool = false) -> ModelInput {
        var columns = [FeatureColumn]()
        var rows = 0
        for name in features {
            let cells = fixture.columns[name]?.arrayValue ?? []
            rows = cells.count
            if cells.first?.stringValue != nil {
                columns.append(.categorical(cells.map(\.stringValue)))
            } else if textCategories, name == "cat" {
                columns.append(.categorical(cells.map { $0.doubleValue.map { String(Int($0)) } }))
            } else {
                columns.append(.numeric(cells.map { $0.doubleValue ?? .nan }))
            }
        }
        return ModelInput(columns: columns, rowCount: rows)
    }

    static let names = [
        "xgb-binary", "xgb-logitraw", "xgb-softprob", "xgb-softmax", "xgb-squared", "xgb-logistic", "xgb-absolute",
        "xgb-poisson", "xgb-dart", "xgb-dart-multi", "xgb-rf", "xgb-pandas",
    ].flatMap { ["\($0).json", "\($0).ubj"] } + [
        "lgb-binary", "lgb-multiclass", "lgb-regression", "lgb-l1", "lgb-poisson", "lgb-zero-missing", "lgb-rf", "lgb-pandas",
    ]
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let d = x.isNaN && y.isNaN ? 0 : abs(x - y)
        worst = max(worst, d.isNaN ? .infinity : d)
    }
    return worst
}

@Suite("XGBoost and LightGBM agree with the Python libraries",
       .enabled(if: PythonEnvironment.available, "needs python3 and pip to make the venv of Tests/requirements-ml.txt"))
struct ForeignParityTests {
    @Test("predictions agree to 1e-6 on unseen rows with missing values", arguments: ForeignModels.names)
    func agrees(name: String) throws {
        let fixture = try ForeignModels.fixture.get()
        let c = try #require(fixture.cases[name], "the training script wrote no case '\(name)'")
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.folder + "/" + c.file))
        #expect(ModelFormat.detect(data) == c.format)
        let scorer = try ModelRuntime.load(data, source: c.file)
        #expect(scorer.features.map(\.name) == c.features)
        let input = ForeignModels.input(fixture, features: c.features)
        try scorer.check(input)
        let p = scorer.predict(input)
        let rows = input.rowCount
        let got: [Double]
        switch c.output {
        case "proba1": got = (0..<rows).map { p.probabilities![$0 * 2 + 1] }
        case "proba": got = p.probabilities ?? []
        case "value": got = p.values ?? []
        case "index": got = (p.classIndices ?? []).map(Double.init)
        case "margin": got = margins(scorer, input)
        default: Issue.record("unknown output '\(c.output)'"); return
        }
        let predictDiff = maxAbsDiff(got, c.predict)
        let marginDiff = maxAbsDiff(margins(scorer, input), c.margin)
        print("parity \(name): predict max abs diff \(predictDiff), margin max abs diff \(marginDiff) over \(rows) rows")
        #expect(predictDiff <= 1e-6)
        #expect(marginDiff <= 1e-6)
    }

    func margins(_ scorer: any Scorer, _ input: ModelInput) -> [Double] {
        if let x = scorer as? XGBoostModel { return x.margins(input).map(Double.init) }
        if let l = scorer as? LightGBMModel { return l.rawScores(input) }
        return []
    }

    @Test("categorical codes given as text score like numbers")
    func textCodes() throws {
        let fixture = try ForeignModels.fixture.get()
        for name in ["xgb-binary.json", "lgb-binary"] {
            let c = try #require(fixture.cases[name])
            let scorer = try ModelRuntime.load(contentsOf: URL(fileURLWithPath: fixture.folder + "/" + c.file))
            let numeric = scorer.predict(ForeignModels.input(fixture, features: c.features))
            let text = scorer.predict(ForeignModels.input(fixture, features: c.features, textCategories: true))
            #expect(numeric == text, "\(name)")
        }
    }

    @Test("feature names, types and tasks come from the files")
    func describes() throws {
        let fixture = try ForeignModels.fixture.get()
        let load = { (name: String) throws -> any Scorer in
            let c = fixture.cases[name]!
            return try ModelRuntime.load(contentsOf: URL(fileURLWithPath: fixture.folder + "/" + c.file))
        }
        let xgb = try load("xgb-softprob.ubj")
        #expect(xgb.format == .xgboostUBJSON)
        #expect(xgb.task == .classification)
        #expect(xgb.classes == ["0", "1", "2"])
        #expect(xgb.features.last == FeatureSpec(name: "cat", type: .categorical))
        #expect(xgb.features.first == FeatureSpec(name: "x0", type: .numeric))
        #expect(try load("xgb-poisson.json").task == .regression)
        let lgb = try load("lgb-pandas")
        #expect(lgb.format == .lightgbmText)
        #expect(lgb.features.last == FeatureSpec(name: "color", type: .categorical))
        #expect(try load("lgb-l1").classes == nil)
    }
}
