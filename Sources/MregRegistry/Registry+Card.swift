import Foundation
import MregCore

extension Registry {
    /// A card from `templates/card.md`, filled with what mreg knows of the version; the fields a
    /// person must write (owner, intended use, limitations, license) are left empty.
    func defaultCard(record: VersionRecord, metrics: MetricsFile?) throws -> String {
        var fields: [String: JSONValue] = [
            "schemaVersion": 1, "model": .string(record.model), "version": .string(record.version),
            "owner": "", "intended_use": "", "limitations": "", "license": "",
        ]
        if let task = record.task { fields["task"] = .string(task) }
        if let algorithm = record.algorithm { fields["algorithm"] = .string(algorithm) }
        if case .object(let p) = record.params, !p.isEmpty { fields["parameters"] = record.params }
        if !record.data.isEmpty {
            fields["training_data"] = .array(record.data.map { d in
                var o: [String: JSONValue] = ["role": .string(d.role), "path": .string(d.path), "sha256": .string(d.sha256)]
                if let rows = d.rows { o["rows"] = .number(Double(rows)) }
                return .object(o)
            })
        }
        let split = metrics.map(Registry.primarySplitName) ?? nil
        if let metrics, let split, let values = metrics.splits[split], !values.isEmpty {
            fields["model-index"] = Registry.modelIndex(record: record, split: split, values: values)
        }
        let card = ModelCard(fields: fields, body: "")
        var front = card.render()
        front = String(front.dropFirst(4).dropLast(4))  // strip the '---' lines, the template has them

        var details = "- Version: \(record.version), registered \(record.created) by \(record.author)\n"
        if let task = record.task { details += "- Task: \(task)" + (record.target.map { " of `\($0)`" } ?? "") + "\n" }
        if let algorithm = record.algorithm { details += "- Algorithm: \(algorithm)\n" }
        if let seed = record.seed { details += "- Seed: \(seed)\n" }
        details += "- Source: \(record.source.kind)" + (record.source.command.map { " (`\($0)`)" } ?? "")
        var training = record.data.isEmpty ? "Not recorded." : ""
        for d in record.data {
            training += "- \(d.role): `\(d.path)` sha256 `\(d.sha256.prefix(16))…`" + (d.rows.map { ", \($0) rows" } ?? "") + "\n"
        }
        var evaluation = "No metrics recorded."
        if let metrics, !metrics.splits.isEmpty {
            evaluation = "| split | metric | value |\n|---|---|---|\n"
            for s in metrics.splits.keys.sorted() {
                for (k, v) in metrics.splits[s]!.sorted(by: { $0.key < $1.key }) {
                    evaluation += "| \(s) | \(k) | \(String(format: "%.4f", v)) |\n"
                }
            }
        }
        return try Registry.template("card.md")
            .replacingOccurrences(of: "{{front_matter}}", with: front)
            .replacingOccurrences(of: "{{model}}", with: record.model)
            .replacingOccurrences(of: "{{version}}", with: record.version)
            .replacingOccurrences(of: "{{details}}", with: details)
            .replacingOccurrences(of: "{{training_data}}", with: training.trimmingCharacters(in: .newlines))
            .replacingOccurrences(of: "{{evaluation}}", with: evaluation.trimmingCharacters(in: .newlines))
    }

    /// The split a card's `model-index` reports: `test`, else `validation`, else the only one.
    static func primarySplitName(_ metrics: MetricsFile) -> String? {
        if metrics.splits["test"] != nil { return "test" }
        if metrics.splits["validation"] != nil { return "validation" }
        return metrics.splits.count == 1 ? metrics.splits.keys.first : nil
    }

    /// A Hugging Face `model-index` for one split's metrics.
    static func modelIndex(record: VersionRecord, split: String, values: [String: Double]) -> JSONValue {
        let metricList: [JSONValue] = values.keys.sorted().map { key in
            .object(["type": .string(key), "name": .string(key), "value": .number(values[key]!)])
        }
        var result: [String: JSONValue] = [
            "dataset": .object(["name": .string(record.data.first?.path ?? record.model), "type": "tabular", "split": .string(split)]),
            "metrics": .array(metricList),
        ]
        if let task = record.task { result["task"] = .object(["type": .string("tabular-\(task)")]) }
        return .array([.object(["name": .string("\(record.model)-\(record.version)"), "results": .array([.object(result)])])])
    }
}

extension Registry {
    /// Fields `mreg card --set` may change: what people write, not what mreg derives.
    public static let editableCardFields: Set<String> = ModelCard.knownFields.subtracting(["schemaVersion", "model", "version", "model-index"])

    /// The card of a version, as text.
    public func cardText(_ reference: ModelReference) throws -> (version: String, text: String) {
        let (snap, version) = try resolve(reference)
        let path = Snapshot.versionPath(reference.model, version) + "/" + ModelCard.fileName
        guard let text = try snap.text(path) else { throw RegistryError.invalidInput("\(reference.model)@\(version) has no card.md") }
        _ = try ModelCard.parse(text, file: path)
        return (version, text)
    }

    /// Sets front-matter fields of a version's card (the one file of a version that may change)
    /// and commits on the current branch.
    public func setCard(_ reference: ModelReference, fields: [(String, String)], message: String?) throws -> (version: String, commit: ObjectID) {
        guard !fields.isEmpty else { throw RegistryError.invalidInput("nothing to set: use --set FIELD=VALUE") }
        for (key, value) in fields {
            guard Registry.editableCardFields.contains(key) else {
                throw RegistryError.invalidInput("card field '\(key)' cannot be set (settable: \(Registry.editableCardFields.sorted().joined(separator: ", ")))")
            }
            guard value.utf8.count <= 10_000 else { throw RegistryError.invalidInput("card field '\(key)' is longer than 10000 bytes") }
        }
        let branch = try currentBranch()
        let version = try head().resolve(reference)
        let path = Snapshot.versionPath(reference.model, version) + "/" + ModelCard.fileName
        return try retrying(branch: branch) {
            let snap = try head()
            guard let text = try snap.text(path) else { throw RegistryError.invalidInput("\(reference.model)@\(version) has no card.md") }
            var card = try ModelCard.parse(text, file: path)
            for (key, value) in fields { card.fields[key] = .string(value) }
            let updated = card.render()
            _ = try ModelCard.parse(updated, file: path)
            guard updated != text else { return (version, snap.commit) }
            var summary = "Update card of \(reference.model) \(version)\n"
            if let message, !message.isEmpty { summary += "\n" + message + "\n" }
            summary += "\nMreg-Model: \(reference.model)\nMreg-Version: \(version)\n"
            let blob = try repository.writeBlob(Data(updated.utf8))
            return (version, try commit([path: .blob(blob)], onBranch: branch, parent: snap.commit, message: summary))
        }
    }
}

import MregGit
