/// `card.md`: a model card, Markdown with YAML front matter in the Hugging Face style.
///
/// The one file of a version that may change after registration: people complete it in a pull request.
public struct ModelCard: Sendable, Equatable {
    public static let fileName = "card.md"
    /// The fields a person must fill in for the card to be complete.
    public static let requiredFields = ["owner", "intended_use", "limitations", "license"]
    /// Front-matter fields a card may carry: mreg's own and the common Hugging Face ones.
    public static let knownFields: Set<String> = [
        "schemaVersion", "model", "version", "owner", "intended_use", "limitations", "license", "description",
        "algorithm", "task", "training_data", "parameters", "ethical_considerations", "contact", "tags", "language",
        "library_name", "pipeline_tag", "datasets", "metrics", "base_model", "model-index", "model_name", "thumbnail",
    ]
    /// The order front-matter fields are written in.
    static let fieldOrder = [
        "schemaVersion", "model", "version", "model_name", "description", "owner", "contact", "license", "intended_use",
        "limitations", "ethical_considerations", "task", "algorithm", "parameters", "training_data", "library_name",
        "pipeline_tag", "language", "tags", "datasets", "base_model", "metrics", "thumbnail", "model-index",
    ]

    public var fields: [String: JSONValue]
    public var body: String

    public init(fields: [String: JSONValue], body: String) {
        self.fields = fields
        self.body = body
    }

    public static func parse(_ text: String, file: String) throws(CoreError) -> ModelCard {
        var rest = Substring(text)
        if rest.hasPrefix("\u{FEFF}") { rest = rest.dropFirst() }
        guard rest.hasPrefix("---\n") || rest.hasPrefix("---\r\n") else {
            throw CoreError.invalidFile(file: file, message: "a model card starts with YAML front matter between '---' lines")
        }
        rest = rest.drop(while: { $0 != "\n" }).dropFirst()
        var yamlLines = [Substring]()
        var body: Substring?
        var remaining = rest
        while !remaining.isEmpty {
            let line = remaining.prefix(while: { $0 != "\n" })
            remaining = remaining.dropFirst(line.count).dropFirst()
            if line == "---" || line == "---\r" {
                body = remaining
                break
            }
            yamlLines.append(line)
        }
        guard let body else { throw CoreError.invalidFile(file: file, message: "the front matter has no closing '---' line") }
        let value = try YAML.parse(yamlLines.joined(separator: "\n"), file: file)
        var f = try Fields(value, file: file)
        try f.schemaVersion(1)
        for key in f.allKeys() where !knownFields.contains(key) {
            throw f.error(key, "is not a known card field")
        }
        for key in requiredFields {
            if let v = f.values[key], !v.isNull, v.stringValue == nil {
                throw f.error(key, "must be text, found \(v.typeName)")
            }
        }
        return ModelCard(fields: f.values, body: String(body))
    }

    /// The text of a required field, nil when empty.
    public func text(_ field: String) -> String? {
        guard let s = fields[field]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty else { return nil }
        return s
    }

    /// Required fields that are still empty.
    public var missingFields: [String] { ModelCard.requiredFields.filter { text($0) == nil } }

    /// The metrics the card's `model-index` states, by metric type, nil when it has none.
    public var statedMetrics: [String: Double]? {
        guard let index = fields["model-index"]?.arrayValue, !index.isEmpty else { return nil }
        var out = [String: Double]()
        for entry in index {
            for result in entry["results"]?.arrayValue ?? [] {
                for metric in result["metrics"]?.arrayValue ?? [] {
                    if let type = metric["type"]?.stringValue, let value = metric["value"]?.doubleValue {
                        out[type] = value
                    }
                }
            }
        }
        return out
    }

    /// The full text: front matter in a fixed field order, then the body unchanged.
    public func render() -> String {
        let known = ModelCard.fieldOrder.filter { fields[$0] != nil }
        let others = fields.keys.filter { !ModelCard.fieldOrder.contains($0) }.sorted()
        let pairs = (known + others).map { key in (key, YAMLNode.from(fields[key]!)) }
        return "---\n" + YAMLNode.map(pairs).render() + "---\n" + body
    }
}

import Foundation
