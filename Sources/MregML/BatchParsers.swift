import Foundation
import MregCore

/// Parses batches of CSV records with the table reader, under the header read first.
struct CSVBatchParser {
    let header: [UInt8]
    let features: [FeatureSpec]
    let keep: [String]
    let source: String

    /// Per header column, the feature it feeds (`>= 0`), the kept column (`-1 - k`), or `Int.min`;
    /// nil when the header needs the table reader (quotes, bad names, a missing column).
    let roles: [Int]?

    init(header: ArraySlice<UInt8>, features: [FeatureSpec], keep: [String], source: String) throws(MLError) {
        self.header = Array(header)
        self.features = features
        self.keep = keep
        self.source = source
        self.roles = CSVBatchParser.roles(header: Array(header), features: features, keep: keep, source: source)
    }

    /// What each header column feeds, when the header is plain (no quotes, no carriage return).
    static func roles(header: [UInt8], features: [FeatureSpec], keep: [String], source: String) -> [Int]? {
        var bytes = header[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard !bytes.contains(0x22), !bytes.contains(0x0D) else { return nil }
        let names = bytes.split(separator: 0x2C, omittingEmptySubsequences: false).enumerated().map { i, field in
            field.isEmpty ? "column_\(i + 1)" : String(decoding: field, as: UTF8.self)
        }
        do throws(MLError) { try Table.checkNames(names, source: source) } catch { return nil }
        var roles = [Int](repeating: Int.min, count: names.count)
        for (j, f) in features.enumerated() {
            guard let c = names.firstIndex(of: f.name) else { return nil }
            guard roles[c] == Int.min else { return nil }
            roles[c] = j
        }
        for (k, name) in keep.enumerated() {
            guard let c = names.firstIndex(of: name), roles[c] == Int.min else { return nil }
            roles[c] = -1 - k
        }
        return roles
    }

    /// The batch of a chunk of whole records starting on line `line`.
    func parse(chunk: [UInt8], line: Int) throws(MLError) -> ParsedBatch {
        if let fast = parsePlain(chunk) { return fast }
        var reader = RecordReader(bytes: chunk, line: line, quoted: true, source: source)
        return try parse(reader.all())
    }

    /// The batch of a plain chunk (no quotes, no carriage returns, every row the header's width, every
    /// numeric cell a number or missing) read straight from its bytes; nil when it needs the table reader.
    ///
    /// Cells mean what `Table.parseCSV` makes of them: blanks around a number are ignored, empty cells and
    /// the missing markers are missing, text cells are kept as written.
    func parsePlain(_ chunk: [UInt8]) -> ParsedBatch? {
        guard let roles else { return nil }
        return chunk.withUnsafeBufferPointer { b -> ParsedBatch? in
            guard let base = b.baseAddress else { return nil }
            guard memchr(base, 0x22, b.count) == nil, memchr(base, 0x0D, b.count) == nil else { return nil }
            var numbers = features.map { _ in [Double]() }
            var texts = features.map { _ in [String?]() }
            var kept = keep.map { _ in [JSONValue]() }
            let numeric = features.map { $0.type == .numeric }
            let estimate = b.count / max(1, header.count + 1) + 16
            for j in features.indices {
                if numeric[j] { numbers[j].reserveCapacity(estimate) } else { texts[j].reserveCapacity(estimate) }
            }
            var rows = 0
            var i = 0
            while i < b.count {
                let lineEnd = memchr(base + i, 0x0A, b.count - i).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? b.count
                defer { i = lineEnd + 1 }
                if (i..<lineEnd).allSatisfy({ base[$0] == 0x20 || base[$0] == 0x09 }) { continue }
                var column = 0
                var cell = i
                while true {
                    var cellEnd = cell
                    while cellEnd < lineEnd, base[cellEnd] != 0x2C { cellEnd += 1 }
                    guard column < roles.count else { return nil }
                    let role = roles[column]
                    if role >= 0 {
                        var s = cell, e = cellEnd
                        NumberParser.trim(base, &s, &e)
                        let missing = NumberParser.isMissing(base + s, e - s)
                        if numeric[role] {
                            if missing {
                                numbers[role].append(.nan)
                            } else {
                                guard let v = NumberParser.parse(base + s, e - s) else { return nil }
                                numbers[role].append(v)
                            }
                        } else {
                            texts[role].append(missing ? nil : String(decoding: UnsafeBufferPointer(start: base + cell, count: cellEnd - cell), as: UTF8.self))
                        }
                    } else if role != Int.min {
                        var s = cell, e = cellEnd
                        NumberParser.trim(base, &s, &e)
                        kept[-1 - role].append(NumberParser.isMissing(base + s, e - s)
                            ? .null : .string(String(decoding: UnsafeBufferPointer(start: base + cell, count: cellEnd - cell), as: UTF8.self)))
                    }
                    column += 1
                    if cellEnd >= lineEnd { break }
                    cell = cellEnd + 1
                }
                guard column == roles.count else { return nil }
                rows += 1
            }
            let columns = features.indices.map { j in numeric[j] ? FeatureColumn.numeric(numbers[j]) : .categorical(texts[j]) }
            return ParsedBatch(input: ModelInput(columns: columns, rowCount: rows), kept: kept, read: rows, bad: [])
        }
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
