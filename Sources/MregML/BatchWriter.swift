import Foundation
import MregCore

/// Formats predictions as CSV or JSON Lines and writes them, one buffered write per batch.
///
/// CSV columns: the kept columns, `prediction`, with probabilities one `proba_CLASS` per class, then
/// `model` and `version`. JSON Lines: an object with the kept fields, `prediction`, `probabilities`
/// (class to probability) when asked, `model` and `version`, keys sorted.
struct BatchWriter: Sendable {
    let options: BatchOptions
    /// Class labels of a classifier, nil for regression.
    let classes: [String]?

    /// The CSV header row; nothing for JSON Lines.
    func header() -> [UInt8] {
        guard options.output == .csv else { return [] }
        var names = options.keep + ["prediction"]
        if options.probabilities, let classes { names += classes.map { "proba_\($0)" } }
        names += ["model", "version"]
        return Array((names.map(BatchWriter.csvField).joined(separator: ",") + "\n").utf8)
    }

    /// The output records of a scored batch.
    func format(_ p: Predictions, kept: [[JSONValue]]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(p.rowCount * 32)
        let tail = Array((options.output == .csv
            ? "," + BatchWriter.csvField(options.model) + "," + BatchWriter.csvField(options.version) + "\n" : "").utf8)
        for r in 0..<p.rowCount {
            switch options.output {
            case .csv:
                for column in kept {
                    out += BatchWriter.csvField(column[r]).utf8
                    out.append(0x2C)
                }
                out += BatchWriter.csvField(prediction(p, r)).utf8
                if options.probabilities, let row = p.probabilities(row: r) {
                    for q in row {
                        out.append(0x2C)
                        out += JSONValue.format(q).utf8
                    }
                }
                out += tail
            case .jsonl:
                var fields = [String: JSONValue]()
                for (j, name) in options.keep.enumerated() { fields[name] = kept[j][r] }
                fields["prediction"] = prediction(p, r)
                if options.probabilities, let classes, let row = p.probabilities(row: r) {
                    fields["probabilities"] = .object(Dictionary(uniqueKeysWithValues: zip(classes, row.map(JSONValue.number))))
                }
                fields["model"] = .string(options.model)
                fields["version"] = .string(options.version)
                out += JSONValue.object(fields).encoded()
                out.append(0x0A)
            }
        }
        return out
    }

    func prediction(_ p: Predictions, _ r: Int) -> JSONValue {
        if let labels = p.labels { return .string(labels[r]) }
        if let values = p.values { return .number(values[r]) }
        return .null
    }

    func emit(_ bytes: [UInt8], to handle: FileHandle) throws(MLError) {
        guard !bytes.isEmpty else { return }
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            throw .unwritableFile(path: options.destination, reason: (error as NSError).localizedDescription.lowercased())
        }
    }

    /// A value as one CSV field: quoted when it holds a comma, a quote or a line break.
    static func csvField(_ v: JSONValue) -> String {
        switch v {
        case .null: return ""
        case .string(let s): return csvField(s)
        case .number(let d): return JSONValue.format(d)
        default: return csvField(v.encodedString())
        }
    }

    static func csvField(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
