import Foundation
import MregCore

/// A loaded model of any format: it describes its inputs and outputs and scores batches of rows.
///
/// Every format's loader validates the whole file up front (shapes, ranges, tree structure), so
/// `predict` is a bounded computation that never traps, whatever the file said.
public protocol Scorer: Sendable {
    /// The file format the model was loaded from.
    var format: ModelFormat { get }
    /// Classification (labels and class probabilities) or regression (values).
    var task: Task { get }
    /// Input columns in the order `ModelInput.columns` follows.
    var features: [FeatureSpec] { get }
    /// Class labels in probability-column order; nil for regression.
    var classes: [String]? { get }
    /// Scores a batch of rows given column by column in `features` order.
    ///
    /// Missing columns or cells read as missing values; use `check(_:)` first to refuse odd input.
    func predict(_ input: ModelInput) -> Predictions
}

/// The model file formats MregML can load and score.
public enum ModelFormat: String, Sendable, CaseIterable, Codable {
    /// mreg's own `model.json` (`schemaVersion`, `format: mreg-model`), written by `mreg train`.
    case mreg
    /// XGBoost's JSON model (`Booster.save_model("model.json")`).
    case xgboostJSON = "xgboost-json"
    /// XGBoost's Universal Binary JSON model (`Booster.save_model("model.ubj")`).
    case xgboostUBJSON = "xgboost-ubjson"
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    case lightgbmText = "lightgbm-text"

    /// Recognises a model file by its content, never by its name; nil when no format fits.
    ///
    /// A JSON object with a top-level `schemaVersion` and `format: mreg-model` (or no `format` but a
    /// `model`) is mreg's, one with `learner` is XGBoost's; a UBJSON object (`{` followed by a
    /// length-prefixed key) is XGBoost's; text starting with `tree` and holding a `version=` line is
    /// LightGBM's. mreg's `baseline.json` and `metrics.json` are not models.
    public static func detect(_ data: Data) -> ModelFormat? {
        let head = Array(data.prefix(4096))
        guard let start = head.firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return nil }
        if head[start] == UInt8(ascii: "{") {
            // UBJSON object keys are a length marker then raw bytes; JSON keys start with a quote.
            if start == 0, head.count > 1, [UInt8(ascii: "i"), UInt8(ascii: "U"), UInt8(ascii: "I"), UInt8(ascii: "l"),
                                             UInt8(ascii: "L"), UInt8(ascii: "$"), UInt8(ascii: "#")].contains(head[1]) {
                return .xgboostUBJSON
            }
            // XGBoost writes `learner` as its first key; otherwise decide on the document's top-level keys
            // (a feature named "learner" inside an mreg model must not fool a text search).
            let text = String(decoding: head[(start + 1)...], as: UTF8.self).drop(while: { $0.isWhitespace })
            if text.hasPrefix("\"learner\"") { return .xgboostJSON }
            if let json = try? JSONValue.parse(data, maxDepth: ModelLimits.maxNesting), case .object(let fields) = json {
                if fields["learner"] != nil { return .xgboostJSON }
                // mreg's other JSON files (baseline.json, metrics.json) carry schemaVersion too.
                let mregFormat = fields["format"] == .string(Model.format) || (fields["format"] == nil && fields["model"] != nil)
                if fields["schemaVersion"] != nil, mregFormat { return .mreg }
            }
            return nil
        }
        let text = String(decoding: head, as: UTF8.self)
        if text.hasPrefix("tree\n") || text.hasPrefix("tree\r\n"), text.contains("\nversion=") { return .lightgbmText }
        return nil
    }
}

extension ModelFormat {
    /// Why a file that presents itself as JSON (`*.json`, or text starting with `{` or `[`) is no model
    /// any runtime here reads: a truncated or broken document, or JSON that is neither mreg's model nor
    /// XGBoost's. Nil for a model file and for files that are not JSON at all (a pickle, TorchScript).
    public static func refusal(_ data: Data, name: String) -> String? {
        guard detect(data) == nil else { return nil }
        let first = data.prefix(4096).first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        let looksJSON = first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        guard looksJSON || name.lowercased().hasSuffix(".json") else { return nil }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(data, maxDepth: ModelLimits.maxNesting)
        } catch {
            return "is not valid JSON (\(error)): a truncated or broken model file"
        }
        let neither = "neither an mreg model (schemaVersion and format 'mreg-model') nor an XGBoost model (learner)"
        guard case .object(let fields) = parsed else { return "is a JSON \(parsed.typeName), \(neither)" }
        if fields["schemaVersion"] != nil, case .string(let other)? = fields["format"] {
            return "is an mreg '\(MLError.clip(other))' file, not a model"
        }
        return "is a JSON object that is \(neither)"
    }
}

/// Limits every loader enforces, so a hostile file is refused instead of exhausting memory or time.
public enum ModelLimits {
    /// Most trees in one ensemble.
    public static let maxTrees = 100_000
    /// Most nodes in one tree.
    public static let maxNodesPerTree = 1 << 20
    /// Most nodes over all trees of a model.
    public static let maxTotalNodes = 20_000_000
    /// Most input features.
    public static let maxFeatures = 100_000
    /// Most classes of a classifier.
    public static let maxClasses = 10_000
    /// Deepest nesting of JSON or UBJSON containers.
    public static let maxNesting = 64
}

/// Loads model files of every format into scorers.
public enum ModelRuntime {
    /// Loads a model file; `format` nil detects it from the content. Errors name `source`.
    public static func load(_ data: Data, format: ModelFormat? = nil, source: String) throws(MLError) -> any Scorer {
        guard let format = format ?? ModelFormat.detect(data) else {
            throw .invalidModel("'\(source)' is not a model file mreg can read (expected \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        do {
            switch format {
            case .mreg: return try Model(data: data)
            case .xgboostJSON: return try XGBoostModel(json: data)
            case .xgboostUBJSON: return try XGBoostModel(ubjson: data)
            case .lightgbmText: return try LightGBMModel(text: data)
            }
        } catch {
            guard case .invalidModel(let reason) = error else { throw error }
            throw .invalidModel("'\(source)' (\(format.rawValue)): \(reason)")
        }
    }

    /// Loads a model file from disk; `format` nil detects it from the content.
    public static func load(contentsOf url: URL, format: ModelFormat? = nil) throws(MLError) -> any Scorer {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: (error as NSError).localizedDescription.lowercased())
        }
        return try load(data, format: format, source: url.lastPathComponent)
    }
}

extension Model: Scorer {
    /// Built-in models are mreg's own format.
    public var format: ModelFormat { .mreg }
}

/// A scorer whose inputs carry names given outside its file (a model file that names no features).
public struct RenamedScorer: Scorer {
    /// The scorer as loaded from its file.
    public let base: any Scorer
    /// The file's features under the given names.
    public let features: [FeatureSpec]
    /// The file's format.
    public var format: ModelFormat { base.format }
    /// The file's task.
    public var task: Task { base.task }
    /// The file's classes.
    public var classes: [String]? { base.classes }

    /// Gives `base` the input names `names` (one per feature, in order; types stay the file's).
    public init(_ base: any Scorer, names: [String]) throws(MLError) {
        guard names.count == base.features.count else {
            throw .invalidModel("\(names.count) feature names given, the model has \(base.features.count) features")
        }
        guard Set(names).count == names.count else { throw .invalidModel("feature names given twice") }
        self.base = base
        self.features = zip(names, base.features).map { FeatureSpec(name: $0, type: $1.type) }
    }

    /// Scores with the underlying model: columns are positional, so the names change nothing here.
    public func predict(_ input: ModelInput) -> Predictions { base.predict(input) }
}

extension Scorer {
    /// Whether the file named its inputs: false for XGBoost's `f0`, `f1`, ... and LightGBM's `Column_0`, ...
    public var namesFeatures: Bool {
        let generic = features.enumerated().allSatisfy { i, f in f.name == "f\(i)" || f.name == "Column_\(i)" }
        return features.isEmpty || !generic
    }
}
