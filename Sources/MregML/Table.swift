import Foundation

/// A CSV file read into columns of optional strings (nil = missing: empty or NA).
///
/// Cells are kept as UTF-8 bytes and turned into strings on demand; every cell is also read as a
/// number once while loading, so numeric columns cost nothing extra and type inference is free.
public struct Table: Sendable {
    /// Header names in file order.
    public private(set) var columnNames: [String]
    /// Number of data rows (the header is not counted).
    public private(set) var rowCount: Int
    /// Where the data came from, used as the prefix of error messages.
    public private(set) var source: String

    /// Cell bytes; a cell is a (start, length) range into this buffer.
    var text: [UInt8]
    var columns: [ColumnStore]
    /// The 1-based line where each data row starts, for error messages.
    var lines: [Int]
    /// Column position by name: a lookup per feature must not scan the header (100,000 columns
    /// made training quadratic in the width).
    var positions: [String: Int]

    /// One column's cells.
    struct ColumnStore: Sendable {
        var starts: [Int] = []
        /// Byte length, or -1 when the cell is missing.
        var lengths: [Int32] = []
        /// The cell as a number; NaN when missing or not a number.
        var numbers: [Double] = []
        /// First row whose non-missing cell is not a number, or -1.
        var firstNonNumeric = -1
        var nonMissing = 0

        init(capacity: Int) {
            starts.reserveCapacity(capacity)
            lengths.reserveCapacity(capacity)
            numbers.reserveCapacity(capacity)
        }

        /// Classifies and appends the cell `p[start..<end]` (the buffer `p` stays owned by the table).
        @inline(__always)
        mutating func append(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, row: Int) {
            var s = start
            var e = end
            NumberParser.trim(p, &s, &e)
            if NumberParser.isMissing(p + s, e - s) {
                starts.append(start)
                lengths.append(-1)
                numbers.append(.nan)
                return
            }
            starts.append(start)
            lengths.append(Int32(truncatingIfNeeded: end - start))
            nonMissing += 1
            if let v = NumberParser.parse(p + s, e - s) {
                numbers.append(v)
            } else {
                numbers.append(.nan)
                if firstNonNumeric < 0 { firstNonNumeric = row }
            }
        }
    }

    init(columnNames: [String], rowCount: Int, source: String, text: [UInt8], columns: [ColumnStore], lines: [Int]) {
        self.columnNames = columnNames
        self.rowCount = rowCount
        self.source = source
        self.text = text
        self.columns = columns
        self.lines = lines
        var positions = [String: Int](minimumCapacity: columnNames.count)
        for (i, name) in columnNames.enumerated() where positions[name] == nil { positions[name] = i }
        self.positions = positions
    }

    /// Builds a table from rows of cells (nil or a missing marker = missing), as if read from a CSV file.
    public init(columnNames: [String], rows: [[String?]], source: String = "table") throws(MLError) {
        try Table.checkNames(columnNames, source: source)
        var text = [UInt8]()
        var ranges = [[(Int, Int)]](repeating: [], count: columnNames.count)
        for (r, row) in rows.enumerated() {
            guard row.count == columnNames.count else {
                throw .raggedRow(source: source, line: r + 2, fields: row.count, expected: columnNames.count)
            }
            for (c, cell) in row.enumerated() {
                let start = text.count
                if let cell { text.append(contentsOf: cell.utf8) }
                ranges[c].append((start, cell == nil ? -1 : text.count))
            }
        }
        var columns = [ColumnStore]()
        text.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress ?? UnsafePointer(bitPattern: 1)!
            for c in 0..<columnNames.count {
                var store = ColumnStore(capacity: rows.count)
                for (r, (start, end)) in ranges[c].enumerated() {
                    if end < 0 {
                        store.starts.append(start)
                        store.lengths.append(-1)
                        store.numbers.append(.nan)
                    } else {
                        store.append(base, start, end, row: r)
                    }
                }
                columns.append(store)
            }
        }
        self.init(
            columnNames: columnNames, rowCount: rows.count, source: source, text: text, columns: columns,
            lines: (0..<rows.count).map { $0 + 2 })
    }

    /// Refuses duplicate header names.
    static func checkNames(_ names: [String], source: String) throws(MLError) {
        var seen = [String: Int]()
        for (i, name) in names.enumerated() {
            if let first = seen[name] {
                throw .duplicateColumn(source: source, name: name, first: first + 1, second: i + 1)
            }
            seen[name] = i
        }
    }

    /// The position of a column, or nil.
    public func columnIndex(_ name: String) -> Int? {
        positions[name]
    }

    /// The cells of a column as strings (nil = missing), or nil when there is no such column.
    public func column(_ name: String) -> [String?]? {
        guard let c = columnIndex(name) else { return nil }
        return strings(column: c)
    }

    /// The cells of a column read as numbers (NaN = missing), or nil when the column is absent or holds
    /// a cell that is not a number.
    public func numericColumn(_ name: String) -> [Double]? {
        guard let c = columnIndex(name), columns[c].firstNonNumeric < 0 else { return nil }
        return columns[c].numbers
    }

    /// The type a column reads as: numeric when it has values and every one is a number.
    public func inferredType(of name: String) -> FeatureType? {
        guard let c = columnIndex(name) else { return nil }
        return inferredType(column: c)
    }

    /// How many cells of a column are missing, or nil when there is no such column.
    public func missingCount(of name: String) -> Int? {
        guard let c = columnIndex(name) else { return nil }
        return rowCount - columns[c].nonMissing
    }

    /// The 1-based line of the file where a data row starts.
    public func line(ofRow row: Int) -> Int {
        row >= 0 && row < lines.count ? lines[row] : row + 2
    }

    /// One cell as a string, nil when missing.
    public func cell(row: Int, column name: String) -> String? {
        guard let c = columnIndex(name), row >= 0, row < rowCount else { return nil }
        return string(row: row, column: c)
    }

    func inferredType(column c: Int) -> FeatureType {
        columns[c].nonMissing > 0 && columns[c].firstNonNumeric < 0 ? .numeric : .categorical
    }

    func string(row: Int, column c: Int) -> String? {
        let length = Int(columns[c].lengths[row])
        if length < 0 { return nil }
        let start = columns[c].starts[row]
        return text.withUnsafeBufferPointer { buf in
            String(decoding: UnsafeBufferPointer(rebasing: buf[start..<start + length]), as: UTF8.self)
        }
    }

    func strings(column c: Int) -> [String?] {
        let store = columns[c]
        return text.withUnsafeBufferPointer { buf -> [String?] in
            var out = [String?]()
            out.reserveCapacity(rowCount)
            for r in 0..<rowCount {
                let length = Int(store.lengths[r])
                if length < 0 {
                    out.append(nil)
                } else {
                    let start = store.starts[r]
                    out.append(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<start + length]), as: UTF8.self))
                }
            }
            return out
        }
    }

    /// The column as numbers, or an error naming the first cell that is not one.
    func numbers(column c: Int) throws(MLError) -> [Double] {
        let store = columns[c]
        if store.firstNonNumeric >= 0 {
            let r = store.firstNonNumeric
            throw .notANumber(source: source, line: line(ofRow: r), column: columnNames[c], value: string(row: r, column: c) ?? "")
        }
        return store.numbers
    }

    /// The largest magnitude a number may have to be trained on: squares and sums of up to 10^8
    /// of them stay finite (a value near 1.7e308 made them infinite and training trap).
    public static let maxTrainingMagnitude = 1e150

    /// The column as numbers for training, or an error naming the first cell that is not a number
    /// or whose magnitude is over `maxTrainingMagnitude`.
    func trainingNumbers(column c: Int) throws(MLError) -> [Double] {
        let values = try numbers(column: c)
        if let r = values.firstIndex(where: { abs($0) > Table.maxTrainingMagnitude }) {
            throw .numberTooLarge(source: source, line: line(ofRow: r), column: columnNames[c],
                                  value: string(row: r, column: c) ?? "", limit: Table.maxTrainingMagnitude)
        }
        return values
    }
}
