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
        switch options.output {
        case .csv: return formatCSV(p, kept: kept)
        case .jsonl: return formatJSONLines(p, kept: kept)
        }
    }

    /// CSV records, written straight into one byte buffer; a class label's field is formatted once.
    func formatCSV(_ p: Predictions, kept: [[JSONValue]]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(p.rowCount * (24 + kept.count * 8 + (options.probabilities ? p.classCount * 20 : 0)))
        let tail = Array(("," + BatchWriter.csvField(options.model) + "," + BatchWriter.csvField(options.version) + "\n").utf8)
        // The label field of each class index, for labels that are the scorer's classes.
        let labelFields = (classes ?? []).map { Array(BatchWriter.csvField($0).utf8) }
        for r in 0..<p.rowCount {
            for column in kept {
                BatchWriter.appendField(column[r], to: &out)
                out.append(0x2C)
            }
            if let labels = p.labels, let indices = p.classIndices, indices[r] >= 0, indices[r] < labelFields.count,
               labels[r] == classes![indices[r]] {
                out += labelFields[indices[r]]
            } else {
                BatchWriter.appendField(prediction(p, r), to: &out)
            }
            if options.probabilities, let row = p.probabilities(row: r) {
                for q in row {
                    out.append(0x2C)
                    out += JSONValue.format(q).utf8
                }
            }
            out += tail
        }
        return out
    }

    /// JSON Lines records: one object per row, keys sorted.
    func formatJSONLines(_ p: Predictions, kept: [[JSONValue]]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(p.rowCount * 64)
        for r in 0..<p.rowCount {
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
        return out
    }

    /// Appends `csvField(v)` without building a string for plain text.
    @inline(__always)
    static func appendField(_ v: JSONValue, to out: inout [UInt8]) {
        if case .string(let s) = v, !s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
            out += s.utf8
        } else {
            out += csvField(v).utf8
        }
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
