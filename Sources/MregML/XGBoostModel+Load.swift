import Foundation
import MregCore

extension XGBoostModel {
    /// Loads an XGBoost JSON model file (`Booster.save_model("model.json")`).
    public convenience init(json data: Data) throws(MLError) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data, maxDepth: ModelLimits.maxNesting)
        } catch {
            throw .invalidModel("not valid JSON: \(error.description)")
        }
        try self.init(document: root, format: .xgboostJSON)
    }

    /// Loads an XGBoost UBJSON model file (`Booster.save_model("model.ubj")`).
    public convenience init(ubjson data: Data) throws(MLError) {
        try self.init(document: try UBJSONReader.parse(data), format: .xgboostUBJSON)
    }

    /// Reads the model from its parsed document; every failure names the field.
    convenience init(document: JSONValue, format: ModelFormat) throws(MLError) {
        let learner = try ArtifactReader(document, path: "").object("learner")
        let param = try learner.object("learner_model_param")
        let featureCount = try Self.count(param, "num_feature", in: 1...ModelLimits.maxFeatures)
        let classCount = try Self.count(param, "num_class", in: 0...ModelLimits.maxClasses)
        if param.has("num_target") {
            let targets = try Self.count(param, "num_target", in: 0...Int.max)
            guard targets <= 1 else { throw .invalidModel("field 'learner.learner_model_param.num_target' is \(targets), multi-target models are not supported") }
        }
        let groups = max(classCount, 1)
        let objective = try learner.object("objective").string("name")
        guard XGBoostModel.objectives[objective] != nil else {
            throw .invalidModel("objective '\(objective)' is not supported (supported: \(XGBoostModel.objectives.keys.sorted().joined(separator: ", ")))")
        }
        if objective.hasPrefix("multi:") {
            guard classCount >= 2 else { throw .invalidModel("field 'learner.learner_model_param.num_class' is \(classCount) for objective '\(objective)'") }
        } else if classCount > 1 {
            throw .invalidModel("field 'learner.learner_model_param.num_class' is \(classCount) for objective '\(objective)'")
        }
        let features = try Self.features(learner, count: featureCount)
        let base = try Self.baseMargin(param, objective: objective, groups: groups)
        let gb = try learner.object("gradient_booster")
        let (booster, trees, categories) = try Self.booster(gb, groups: groups, featureCount: featureCount)
        let model = try gb.string("name") == "dart" ? gb.object("gbtree").object("model") : gb.object("model")
        let codes = try Self.categoryCodes(model, features: features)
        try self.init(format: format, objective: objective, booster: booster, features: features, groups: groups,
                      baseMargin: base, trees: trees, categories: categories, categoryCodes: codes)
    }

    /// An integer XGBoost stores as a string (`"3"`) or, in some versions, as a number.
    static func count(_ r: ArtifactReader, _ key: String, in range: ClosedRange<Int>) throws(MLError) -> Int {
        let v = try r.value(key)
        if case .string(let s) = v {
            guard let d = NumberParser.parse(s), let i = Int(exactly: d) else {
                throw .invalidModel("field '\(r.name(key))' is '\(MLError.clip(s))', expected an integer")
            }
            guard range.contains(i) else {
                throw .invalidModel("field '\(r.name(key))' is \(i), expected \(range.lowerBound)...\(range.upperBound)")
            }
            return i
        }
        return try ArtifactReader.int(v, r.name(key), range)
    }

    /// Feature names and types: from `feature_names`/`feature_types` when the file has them, else `f0`, `f1`, ...
    static func features(_ learner: ArtifactReader, count: Int) throws(MLError) -> [FeatureSpec] {
        var names = (0..<count).map { "f\($0)" }
        let nameList = learner.has("feature_names") ? try learner.strings("feature_names") : []
        if !nameList.isEmpty {
            let list = nameList
            guard list.count == count else {
                throw .invalidModel("field 'learner.feature_names' has \(list.count) names, the model has \(count) features (num_feature)")
            }
            guard Set(list).count == list.count else { throw .invalidModel("field 'learner.feature_names' has duplicates") }
            names = list
        }
        var types = [FeatureType](repeating: .numeric, count: count)
        let typeList = learner.has("feature_types") ? try learner.strings("feature_types") : []
        if !typeList.isEmpty {
            let list = typeList
            guard list.count == count else {
                throw .invalidModel("field 'learner.feature_types' has \(list.count) types, the model has \(count) features (num_feature)")
            }
            for (i, t) in list.enumerated() {
                switch t {
                case "c": types[i] = .categorical
                case "float", "int", "i", "q": types[i] = .numeric
                default: throw .invalidModel("field 'learner.feature_types[\(i)]' is '\(MLError.clip(t))', expected float, int, i, q or c")
                }
            }
        }
        return zip(names, types).map { FeatureSpec(name: $0, type: $1) }
    }

    /// The starting margin per group: `base_score` (a number, or `[a,b,...]` since XGBoost 3) through the link.
    ///
    /// XGBoost stores the base score in prediction space for logistic and Poisson objectives and turns it
    /// into a margin at load (`ProbToMargin`); the same single-precision steps are taken here.
    static func baseMargin(_ param: ArtifactReader, objective: String, groups: Int) throws(MLError) -> [Float] {
        let field = "learner.learner_model_param.base_score"
        var values = [Float]()
        switch try param.value("base_score") {
        case .number(let d): values = [Float(d)]
        case .string(let s):
            var text = Substring(s)
            if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let d = NumberParser.parse(String(part)) else {
                    throw .invalidModel("field '\(field)' is '\(MLError.clip(s))', expected a number or a list of numbers")
                }
                values.append(Float(d))
            }
        case let other: throw .invalidModel("field '\(field)' must be a string, got \(other.typeName)")
        }
        guard values.allSatisfy(\.isFinite) else { throw .invalidModel("field '\(field)' must be finite") }
        if values.count == 1 { values = Array(repeating: values[0], count: groups) }
        guard values.count == groups else {
            throw .invalidModel("field '\(field)' has \(values.count) values, the model has \(groups) outputs")
        }
        switch objective {
        case "binary:logistic", "reg:logistic":
            return values.map { v in
                let p = min(max(v, 1e-6), 1 - 1e-6)
                return -Foundation.logf(1 / p - 1)
            }
        case "count:poisson":
            guard values.allSatisfy({ $0 > 0 }) else { throw .invalidModel("field '\(field)' must be positive for count:poisson") }
            return values.map { Foundation.logf($0) }
        default:
            return values
        }
    }

    /// Label-to-code tables from `cats.enc` (XGBoost >= 3.1 keeps the categories it was trained on): per
    /// feature either `offsets` into UTF-8 `values` (text labels) or numeric `values`; a label's code is
    /// its position. Files without `cats`, or with empty entries, take codes as given.
    static func categoryCodes(_ model: ArtifactReader, features: [FeatureSpec]) throws(MLError) -> [[String: Double]?] {
        var out = [[String: Double]?](repeating: nil, count: features.count)
        guard model.has("cats"), try model.object("cats").has("enc") else { return out }
        let entries = try model.object("cats").objects("enc")
        guard !entries.isEmpty else { return out }
        guard entries.count == features.count else {
            throw .invalidModel("field '\(model.name("cats.enc"))' has \(entries.count) entries, the model has \(features.count) features")
        }
        for (j, entry) in entries.enumerated() {
            var labels = [String]()
            if entry.has("offsets"), !(try entry.array("offsets")).isEmpty {
                let bytes = try entry.ints("values", in: 0...255).map { UInt8($0) }
                let offsets = try entry.ints("offsets", in: 0...bytes.count)
                for (a, b) in zip(offsets, offsets.dropFirst()) {
                    guard a <= b else { throw .invalidModel("field '\(entry.name("offsets"))' must not decrease") }
                    labels.append(String(decoding: bytes[a..<b], as: UTF8.self))
                }
            } else if !entry.has("offsets") {
                labels = try entry.numbers("values").map(FeatureColumn.categoryText)
            }
            guard !labels.isEmpty else { continue }
            guard features[j].type == .categorical else {
                throw .invalidModel("field '\(entry.path)' lists categories for numeric feature '\(features[j].name)'")
            }
            var table = [String: Double]()
            for (code, label) in labels.enumerated() where table[label] == nil { table[label] = Double(code) }
            out[j] = table
        }
        return out
    }
}
