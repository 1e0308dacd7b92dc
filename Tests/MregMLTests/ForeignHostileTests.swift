import Foundation
import MregCore
import Testing

@testable import MregML

/// Small XGBoost and LightGBM files written by hand, and broken ones.
enum HandModels {
    /// One XGBoost tree: node 0 splits feature 0 at 0.5 (missing goes left), leaves -1 and 1.
    static func xgbTree(left: [Int] = [1, -1, -1], right: [Int] = [2, -1, -1], split: [Int] = [0, 0, 0],
                        conditions: [Double] = [0.5, -1, 1], splitType: [Int]? = nil,
                        categories: (nodes: [Int], segments: [Int], sizes: [Int], values: [Int])? = nil) -> JSONValue {
        let n = left.count
        var tree: [String: JSONValue] = [
            "left_children": .array(left.map { .number(Double($0)) }),
            "right_children": .array(right.map { .number(Double($0)) }),
            "split_indices": .array(split.map { .number(Double($0)) }),
            "split_conditions": .array(conditions.map(JSONValue.number)),
            "default_left": .array((0..<n).map { $0 == 0 ? 1 : 0 }),
            "split_type": .array((splitType ?? Array(repeating: 0, count: n)).map { .number(Double($0)) }),
            "tree_param": ["num_nodes": .string(String(n)), "num_feature": "2", "size_leaf_vector": "1"],
            "id": 0,
        ]
        let c = categories ?? ([], [], [], [])
        tree["categories_nodes"] = .array(c.nodes.map { .number(Double($0)) })
        tree["categories_segments"] = .array(c.segments.map { .number(Double($0)) })
        tree["categories_sizes"] = .array(c.sizes.map { .number(Double($0)) })
        tree["categories"] = .array(c.values.map { .number(Double($0)) })
        return .object(tree)
    }

    static func xgb(trees: [JSONValue] = [xgbTree()], objective: String = "binary:logistic", numFeature: String = "2",
                    names: [String] = ["a", "b"], types: [String] = ["q", "q"], baseScore: String = "[5E-1]",
                    numClass: String = "0", booster: String = "gbtree") -> JSONValue {
        let model: JSONValue = [
            "trees": .array(trees), "tree_info": .array(trees.map { _ in 0 }),
            "gbtree_model_param": ["num_trees": .string(String(trees.count)), "num_parallel_tree": "1"],
        ]
        return [
            "version": [3, 2, 0],
            "learner": [
                "feature_names": .array(names.map(JSONValue.string)), "feature_types": .array(types.map(JSONValue.string)),
                "learner_model_param": ["base_score": .string(baseScore), "num_class": .string(numClass),
                                        "num_feature": .string(numFeature), "num_target": "1", "boost_from_average": "1"],
                "objective": ["name": .string(objective)],
                "gradient_booster": ["name": .string(booster), "model": model],
            ],
        ]
    }

    /// Encodes a document as UBJSON the way XGBoost does (big-endian, 64-bit lengths, float64 numbers).
    static func ubjson(_ value: JSONValue) -> Data {
        var out = Data()
        func length(_ n: Int) {
            out.append(UInt8(ascii: "L"))
            withUnsafeBytes(of: Int64(n).bigEndian) { out.append(contentsOf: $0) }
        }
        func write(_ v: JSONValue) {
            switch v {
            case .null: out.append(UInt8(ascii: "Z"))
            case .bool(let b): out.append(UInt8(ascii: b ? "T" : "F"))
            case .number(let d):
                out.append(UInt8(ascii: "D"))
                withUnsafeBytes(of: d.bitPattern.bigEndian) { out.append(contentsOf: $0) }
            case .string(let s):
                out.append(UInt8(ascii: "S"))
                length(s.utf8.count)
                out.append(contentsOf: Array(s.utf8))
            case .array(let items):
                out.append(contentsOf: Array("[#".utf8))
                length(items.count)
                items.forEach(write)
            case .object(let fields):
                out.append(UInt8(ascii: "{"))
                for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                    length(k.utf8.count)
                    out.append(contentsOf: Array(k.utf8))
                    write(v)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
        write(value)
        return out
    }

    static let lgbHeader = """
        tree
        version=v4
        num_class=1
        num_tree_per_iteration=1
        label_index=0
        max_feature_idx=1
        objective=binary sigmoid:1
        feature_names=a b
        feature_infos=[-1:1] 0:1:2
        tree_sizes=100


        """

    /// One LightGBM tree: node 0 splits a at 0.25 (NaN goes left), node 1 tests category b in {1}.
    static func lgbTree(left: String = "-1 -2", right: String = "1 -3", threshold: String = "0.25 0",
                        decision: String = "10 1", leaves: String = "-0.5 0.75 1.5", features: String = "0 1") -> String {
        """
        Tree=0
        num_leaves=3
        num_cat=1
        split_feature=\(features)
        threshold=\(threshold)
        decision_type=\(decision)
        left_child=\(left)
        right_child=\(right)
        leaf_value=\(leaves)
        cat_boundaries=0 1
        cat_threshold=2
        is_linear=0
        shrinkage=1


        """
    }

    static func lgb(_ trees: String = lgbTree(), header: String = lgbHeader, trailer: String = "end of trees\n\npandas_categorical:null\n") -> Data {
        Data((header + trees + trailer).utf8)
    }

    static func error(_ data: Data, format: ModelFormat? = nil) -> String? {
        do {
            _ = try ModelRuntime.load(data, format: format, source: "model.bin")
            return nil
        } catch {
            return error.description
        }
    }
}

@Suite("Hand-written XGBoost and LightGBM files")
struct ForeignHandTests {
    @Test("a one-tree XGBoost model scores by threshold, default direction and base score")
    func xgbScores() throws {
        let m = try XGBoostModel(json: HandModels.xgb().encoded())
        let input = ModelInput(columns: [.numeric([0.2, 0.9, .nan]), .numeric([0, 0, 0])], rowCount: 3)
        let margins = m.margins(input)
        #expect(margins == [-1, 1, -1])
        let p = m.predict(input)
        #expect(p.labels == ["0", "1", "0"])
        #expect(abs(p.probabilities![1] - 1 / (1 + exp(1))) < 1e-7)
    }

    @Test("an XGBoost categorical split sends the categories of its set right")
    func xgbCategories() throws {
        let tree = HandModels.xgbTree(split: [1, 0, 0], conditions: [0, -1, 1], splitType: [1, 0, 0],
                                      categories: ([0], [0], [2], [3, 1]))
        let m = try XGBoostModel(json: HandModels.xgb(trees: [tree], types: ["q", "c"]).encoded())
        let input = ModelInput(columns: [.numeric([0, 0, 0, 0, 0, 0]), .categorical(["1", "3", "2", nil, "-1", "99999999"])], rowCount: 6)
        #expect(m.margins(input) == [1, 1, -1, -1, -1, -1])
        #expect(m.features[1].type == .categorical)
    }

    @Test("UBJSON and JSON of the same document load to the same model")
    func ubjsonMatches() throws {
        let doc = HandModels.xgb(objective: "count:poisson", baseScore: "2")
        let a = try XGBoostModel(json: doc.encoded()), b = try XGBoostModel(ubjson: HandModels.ubjson(doc))
        let input = ModelInput(columns: [.numeric([0.1, 0.7]), .numeric([1, 2])], rowCount: 2)
        #expect(a.predict(input) == b.predict(input))
        #expect(abs(a.predict(input).values![0] - 2 * exp(-1)) < 1e-6)
        #expect(ModelFormat.detect(HandModels.ubjson(doc)) == .xgboostUBJSON)
    }

    @Test("a LightGBM tree follows missing types and category bitsets")
    func lgbScores() throws {
        let m = try LightGBMModel(text: HandModels.lgb())
        // a <= 0.25 -> leaf 0; else b in {1} -> leaf 1, else (NaN, -0.5 read as 0) leaf 2; NaN a goes left (NaN type).
        let input = ModelInput(columns: [.numeric([0.1, 0.5, 0.5, .nan, 0.5, 0.5]), .numeric([0, 1, 2, 1, .nan, -0.5])], rowCount: 6)
        #expect(m.rawScores(input) == [-0.5, 0.75, 1.5, -0.5, 1.5, 1.5])
        #expect(m.features == [FeatureSpec(name: "a", type: .numeric), FeatureSpec(name: "b", type: .categorical)])
        #expect(ModelFormat.detect(HandModels.lgb()) == .lightgbmText)
    }

    @Test("a foreign model is evaluated against a named target column")
    func evaluatesForeign() throws {
        let m = try LightGBMModel(text: HandModels.lgb())
        let table = try Table.parseCSV(Data("a,b,y\n0.1,1,0\n0.5,1,1\n0.5,2,1\n0.1,2,1\n".utf8), source: "t.csv")
        let e = try evaluate(m, target: "y", on: table)
        #expect(e.rows == 4)
        #expect(e.classes == ["0", "1"])
        #expect(e.metrics["accuracy"] == 0.75)
        #expect(throws: MLError.self) { try evaluate(m, target: "label", on: table) }
    }

    @Test("formats are told apart by content, not by name")
    func detects() throws {
        let mreg = Data(#"{"schemaVersion": 1, "format": "mreg-model"}"#.utf8)
        #expect(ModelFormat.detect(mreg) == .mreg)
        #expect(ModelFormat.detect(HandModels.xgb().encoded(pretty: true)) == .xgboostJSON)
        #expect(ModelFormat.detect(Data(#"{"schemaVersion": 1, "format": "mreg-baseline", "rows": 3}"#.utf8)) == nil)
        #expect(ModelFormat.detect(Data(#"{"schemaVersion": 1, "splits": {}}"#.utf8)) == nil)
        #expect(ModelFormat.detect(Data(#"{"algorithm": "gbdt", "features": [{"name": "learner"}], "schemaVersion": 1, "format": "mreg-model"}"#.utf8)) == .mreg)
        #expect(ModelFormat.detect(Data("hello".utf8)) == nil)
        #expect(ModelFormat.detect(Data()) == nil)
        #expect(HandModels.error(Data("hello".utf8))?.contains("not a model file mreg can read") == true)
    }
}

@Suite("Hostile model files are errors, never crashes or hangs")
struct ForeignHostileTests {
    @Test("a truncated file")
    func truncated() {
        let json = HandModels.xgb().encoded()
        #expect(HandModels.error(json.prefix(json.count / 2), format: .xgboostJSON)?.contains("not valid JSON") == true)
        let ubj = HandModels.ubjson(HandModels.xgb())
        for cut in [1, 10, ubj.count / 3, ubj.count - 1] {
            #expect(HandModels.error(ubj.prefix(cut), format: .xgboostUBJSON) != nil, "cut at \(cut)")
        }
        let text = HandModels.lgb()
        #expect(HandModels.error(text.prefix(text.count - 40))?.contains("truncated") == true)
    }

    @Test("a JSON file that is no model says why; files of other formats do not")
    func jsonThatIsNoModel() throws {
        let model = Data(#"{"schemaVersion": 1, "format": "mreg-model", "algorithm": "logistic", "features": []}"#.utf8)
        let truncated = ModelFormat.refusal(model.prefix(30), name: "model.json")
        #expect(truncated?.hasPrefix("is not valid JSON (") == true, "\(truncated ?? "nil")")
        #expect(truncated?.hasSuffix("a truncated or broken model file") == true)
        #expect(ModelFormat.refusal(Data("x".utf8), name: "model.json")?.hasPrefix("is not valid JSON") == true)
        #expect(ModelFormat.refusal(Data(#"{"w": 1}"#.utf8), name: "weights.txt")
            == "is a JSON object that is neither an mreg model (schemaVersion and format 'mreg-model') nor an XGBoost model (learner)")
        #expect(ModelFormat.refusal(Data("[1, 2]".utf8), name: "model.json")?.hasPrefix("is a JSON array, neither") == true)
        #expect(ModelFormat.refusal(Data(#"{"schemaVersion": 1, "format": "mreg-baseline"}"#.utf8), name: "model.json")
            == "is an mreg 'mreg-baseline' file, not a model")
        // Models, and files that are not JSON at all, are not refused here.
        #expect(ModelFormat.refusal(model, name: "model.json") == nil)
        #expect(ModelFormat.refusal(HandModels.xgb().encoded(), name: "model.json") == nil)
        #expect(ModelFormat.refusal(Data([0x80, 0x04, 0x95]), name: "model.pkl") == nil)
        #expect(ModelFormat.refusal(Data("PK\u{03}\u{04}torchscript".utf8), name: "model.pt") == nil)
    }

    @Test("a tree with a cycle, a shared child or an out-of-range child")
    func badShape() {
        let cycle = HandModels.xgb(trees: [HandModels.xgbTree(left: [1, 0, -1], right: [2, 2, -1])])
        #expect(HandModels.error(cycle.encoded())?.contains("leads back") == true)
        let range = HandModels.xgb(trees: [HandModels.xgbTree(right: [7, -1, -1])])
        #expect(HandModels.error(range.encoded())?.contains("right_children[0]' is 7") == true)
        let orphan = HandModels.xgb(trees: [HandModels.xgbTree(left: [-1, -1, -1], right: [-1, -1, -1])])
        #expect(HandModels.error(orphan.encoded())?.contains("not reachable") == true)
        let lgbCycle = HandModels.lgb(HandModels.lgbTree(left: "-1 0", right: "1 -3"))
        #expect(HandModels.error(lgbCycle)?.contains("leads back") == true)
        let lgbRange = HandModels.lgb(HandModels.lgbTree(left: "-1 -9"))
        #expect(HandModels.error(lgbRange)?.contains("left_child") == true)
    }

    @Test("NaN thresholds and leaf values")
    func nanValues() {
        let tree = HandModels.xgbTree(conditions: [.nan, -1, 1])
        let message = HandModels.error(HandModels.ubjson(HandModels.xgb(trees: [tree])))
        #expect(message?.contains("split_conditions[0]' must be a finite number") == true, "\(message ?? "")")
        #expect(HandModels.error(HandModels.lgb(HandModels.lgbTree(threshold: "nan 0")))?.contains("not a finite number") == true)
        #expect(HandModels.error(HandModels.lgb(HandModels.lgbTree(leaves: "-0.5 inf 1")))?.contains("leaf_value") == true)
    }

    @Test("a million trees is over the documented limit")
    func tooManyTrees() {
        let many = Data(("{\"learner\":{\"learner_model_param\":{\"num_feature\":\"2\",\"num_class\":\"0\",\"base_score\":\"0.5\"},"
            + "\"objective\":{\"name\":\"binary:logistic\"},\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"trees\":["
            + Array(repeating: "{}", count: 1_000_000).joined(separator: ",") + "],\"tree_info\":[]}}}}").utf8)
        #expect(HandModels.error(many)?.contains("more than the limit of \(ModelLimits.maxTrees)") == true)
        let text = HandModels.lgbHeader + (0...ModelLimits.maxTrees).map { "Tree=\($0)\n" }.joined() + "end of trees\n"
        #expect(HandModels.error(Data(text.utf8))?.contains("limit") == true)
    }

    @Test("feature counts that disagree")
    func featureCount() throws {
        let names = HandModels.xgb(names: ["a", "b", "c"], types: ["q", "q", "q"])
        #expect(HandModels.error(names.encoded())?.contains("has 3 names, the model has 2 features") == true)
        let split = HandModels.xgb(trees: [HandModels.xgbTree(split: [5, 0, 0])])
        #expect(HandModels.error(split.encoded())?.contains("split_indices") == true)
        let header = HandModels.lgbHeader.replacingOccurrences(of: "feature_names=a b", with: "feature_names=a b c")
        #expect(HandModels.error(HandModels.lgb(header: header))?.contains("has 3 names, the model has 2 features") == true)
        #expect(HandModels.error(HandModels.lgb(HandModels.lgbTree(features: "0 4")))?.contains("split_feature") == true)
        let model = try ModelRuntime.load(HandModels.xgb().encoded(), source: "m.json")
        #expect(throws: MLError.self) { try model.check(ModelInput(columns: [.numeric([1])], rowCount: 1)) }
    }

    @Test("a UBJSON length pointing past the end")
    func ubjsonLength() {
        var doc = Data("{L".utf8)
        withUnsafeBytes(of: Int64(1 << 40).bigEndian) { doc.append(contentsOf: $0) }
        #expect(HandModels.error(doc, format: .xgboostUBJSON)?.contains("points past the end") == true)
        var typed = Data("{i\u{1}a[$d#l".utf8)
        withUnsafeBytes(of: Int32(1_000_000_000).bigEndian) { typed.append(contentsOf: $0) }
        #expect(HandModels.error(typed)?.contains("points past the end") == true)
        #expect(HandModels.error(Data("{i\u{1}a[#i\u{FF}".utf8), format: .xgboostUBJSON) != nil)
        var zeros = Data("{i\u{1}a[$U#l".utf8)
        withUnsafeBytes(of: Int32(30_000_000).bigEndian) { zeros.append(contentsOf: $0) }
        zeros.append(Data(count: 30_000_000))
        #expect(HandModels.error(zeros)?.contains("over the limit of \(ModelLimits.maxTotalNodes)") == true)
    }

    @Test("deep nesting")
    func deepNesting() {
        let json = Data(("{\"learner\":" + String(repeating: "[", count: 100_000)).utf8)
        #expect(HandModels.error(json, format: .xgboostJSON)?.contains("nesting deeper") == true)
        let ubj = Data(("{i\u{7}learner" + String(repeating: "[", count: 100_000)).utf8)
        #expect(HandModels.error(ubj)?.contains("nesting deeper") == true)
    }

    @Test("objectives, boosters and decision types that are not scored here")
    func unsupported() {
        #expect(HandModels.error(HandModels.xgb(objective: "rank:pairwise").encoded())?.contains("objective 'rank:pairwise' is not supported") == true)
        #expect(HandModels.error(HandModels.xgb(booster: "gblinear").encoded())?.contains("gbtree and dart") == true)
        let header = HandModels.lgbHeader.replacingOccurrences(of: "objective=binary sigmoid:1", with: "objective=lambdarank")
        #expect(HandModels.error(HandModels.lgb(header: header))?.contains("objective 'lambdarank' is not supported") == true)
        #expect(HandModels.error(HandModels.lgb(HandModels.lgbTree(decision: "14 1")))?.contains("decision_type") == true)
        let linear = HandModels.lgbTree().replacingOccurrences(of: "is_linear=0", with: "is_linear=1")
        #expect(HandModels.error(HandModels.lgb(linear))?.contains("linear tree") == true)
    }

    @Test("random corruption of valid files loads or fails, and what loads scores")
    func fuzz() {
        var rng = SeededGenerator(seed: 42)
        let originals: [(Data, ModelFormat)] = [
            (HandModels.xgb().encoded(), .xgboostJSON), (HandModels.ubjson(HandModels.xgb()), .xgboostUBJSON),
            (HandModels.lgb(), .lightgbmText),
        ]
        let input = ModelInput(columns: [.numeric([0.1, 0.6, .nan]), .numeric([1, 2, .nan])], rowCount: 3)
        for (original, format) in originals {
            for _ in 0..<300 {
                var bytes = [UInt8](original)
                for _ in 0..<(1 + rng.below(4)) { bytes[rng.below(bytes.count)] = UInt8(rng.below(256)) }
                if let scorer = try? ModelRuntime.load(Data(bytes), format: format, source: "fuzz") {
                    _ = scorer.predict(input)
                }
            }
        }
    }
}
