import Foundation
import MregCore

/// Parses batches of CSV records with the table reader, under the header read first.
struct CSVBatchParser {
    let header: [UInt8]
    let features: [FeatureSpec]
    let keep: [String]
    let source: String

    init(header: ArraySlice<UInt8>, features: [FeatureSpec], keep: [String], source: String) throws(MLError) {
        self.header = Array(header)
        self.features = features
        self.keep = keep
        self.source = source
    }

    func table(_ records: some Collection<(bytes: ArraySlice<UInt8>, line: Int)>) throws(MLError) -> Table {
        var text = header
        text.append(0x0A)
        for r in records {
            text += r.bytes
            text.append(0x0A)
        }
        return try Table.parseCSV(Data(text), source: source)
    }

    /// The batch's model input; rows whose fields do not fit are set aside with the reason.
    func parse(_ records: [(bytes: ArraySlice<UInt8>, line: Int)]) throws(MLError) -> ParsedBatch {
        var good = records
        var bad = [(line: Int, reason: String)]()
        var table: Table
        do {
            table = try self.table(records)
        } catch {
            // Find the records that do not parse on their own; the others still make a batch.
            good = []
            for r in records {
                do {
                    _ = try self.table([r])
                    good.append(r)
                } catch {
                    bad.append((r.line, CSVBatchParser.reason(error)))
                }
            }
            guard !good.isEmpty else {
                let empty = ModelInput(columns: features.map { $0.type == .numeric ? .numeric([]) : .categorical([]) }, rowCount: 0)
                return ParsedBatch(input: empty, kept: keep.map { _ in [] }, read: records.count, bad: bad)
            }
            table = try self.table(good)
        }
        let columns = try features.map { f throws(MLError) -> Int in
            guard let c = table.columnIndex(f.name) else { throw .missingColumn(source: source, name: f.name, available: table.columnNames) }
            return c
        }
        let keepColumns = try keep.map { k throws(MLError) -> Int in
            guard let c = table.columnIndex(k) else { throw .missingColumn(source: source, name: k, available: table.columnNames) }
            return c
        }
        var badRows = Set<Int>()
        for (f, c) in zip(features, columns) where f.type == .numeric && table.columns[c].firstNonNumeric >= 0 {
            let store = table.columns[c]
            for r in store.firstNonNumeric..<table.rowCount where store.lengths[r] >= 0 && store.numbers[r].isNaN && !badRows.contains(r) {
                badRows.insert(r)
                bad.append((good[r].line, "column '\(f.name)': '\(MLError.clip(table.string(row: r, column: c) ?? ""))' is not a number"))
            }
        }
        bad.sort { $0.line < $1.line }
        var input = ModelInput(columns: zip(features, columns).map { f, c in
            f.type == .numeric ? .numeric(table.columns[c].numbers) : .categorical(table.strings(column: c))
        }, rowCount: table.rowCount)
        var kept = keepColumns.map { c in table.strings(column: c).map { $0.map(JSONValue.string) ?? .null } }
        if !badRows.isEmpty {
            let rows = (0..<table.rowCount).filter { !badRows.contains($0) }
            input = ModelInput(columns: input.columns.map { $0.subset(rows) }, rowCount: rows.count)
            kept = kept.map { values in rows.map { values[$0] } }
        }
        return ParsedBatch(input: input, kept: kept, read: records.count, bad: bad)
    }

    /// A table error as a reason for one line (the line itself is reported apart).
    static func reason(_ error: MLError) -> String {
        switch error {
        case .raggedRow(_, _, let fields, let expected): return "has \(fields) field\(fields == 1 ? "" : "s"), expected \(expected)"
        case .unterminatedQuote: return "a quoted field is never closed"
        default: return error.description
        }
    }
}

/// Parses batches of JSON Lines: one object per line, features by name.
struct JSONLinesParser {
    let features: [FeatureSpec]
    let keep: [String]

    func parse(_ records: [(bytes: ArraySlice<UInt8>, line: Int)]) -> ParsedBatch {
        var numeric = features.map { _ in [Double]() }
        var text = features.map { _ in [String?]() }
        var kept = keep.map { _ in [JSONValue]() }
        var bad = [(line: Int, reason: String)]()
        var rows = 0
        for record in records {
            let parsed: JSONValue
            do {
                parsed = try JSONValue.parse(Data(record.bytes), maxDepth: 16)
            } catch {
                bad.append((record.line, "invalid JSON: \(error)"))
                continue
            }
            guard case .object(let fields) = parsed else {
                bad.append((record.line, "not a JSON object"))
                continue
            }
            var cells = [(Double, String?)]()
            var reason: String? = nil
            for f in features {
                let v = fields[f.name] ?? .null
                guard let cell = JSONLinesParser.cell(v, f.type) else {
                    reason = "field '\(f.name)' is \(v.typeName), expected a \(f.type == .numeric ? "number" : "string or number")"
                    break
                }
                cells.append(cell)
            }
            if let reason {
                bad.append((record.line, reason))
                continue
            }
            for (j, cell) in cells.enumerated() {
                if features[j].type == .numeric { numeric[j].append(cell.0) } else { text[j].append(cell.1) }
            }
            for (j, k) in keep.enumerated() { kept[j].append(fields[k] ?? .null) }
            rows += 1
        }
        let columns = features.indices.map { j in features[j].type == .numeric ? FeatureColumn.numeric(numeric[j]) : .categorical(text[j]) }
        return ParsedBatch(input: ModelInput(columns: columns, rowCount: rows), kept: kept, read: records.count, bad: bad)
    }

    /// A value as a numeric or categorical cell; nil when it cannot be one.
    static func cell(_ v: JSONValue, _ type: FeatureType) -> (Double, String?)? {
        switch (v, type) {
        case (.null, _): return (.nan, nil)
        case (.number(let d), .numeric): return (d, nil)
        case (.number(let d), .categorical): return (.nan, FeatureColumn.categoryText(d))
        case (.string(let s), .categorical): return (.nan, s)
        case (.string(let s), .numeric):
            if NumberParser.isMissing(s) { return (.nan, nil) }
            return NumberParser.parse(s).map { ($0, nil) }
        default: return nil
        }
    }
}
