import Foundation

extension Table {
    /// Reads CSV bytes: a header row, then records of the same width.
    ///
    /// Accepts RFC 4180 quoting (commas, `""` and line breaks inside quotes), LF or CRLF line ends, a UTF-8
    /// byte-order mark and blank lines (skipped). Empty cells and `NA`, `N/A`, `n/a`, `NaN`, `nan`, `null`,
    /// `NULL` are missing. Empty header names become `column_N` (1-based position).
    public static func parseCSV(_ data: Data, source: String) throws(MLError) -> Table {
        try parseCSV(data, source: source, maxLineBytes: maxLineBytes)
    }

    /// The longest line a CSV file may have, in bytes (64 MiB; a million numeric columns fit). A
    /// longer one is refused before anything is copied or split, instead of costing several
    /// times its size in memory first.
    public static let maxLineBytes = 64 << 20

    static func parseCSV(_ data: Data, source: String, maxLineBytes: Int) throws(MLError) -> Table {
        if let line = longLine(data, limit: maxLineBytes) {
            throw .lineTooLong(source: source, line: line, limit: maxLineBytes)
        }
        var buffer = [UInt8](data)
        let result = buffer.withUnsafeMutableBufferPointer { p -> Result<Table, MLError> in
            var reader = CSVReader(bytes: p, source: source)
            return Result { () throws(MLError) -> Table in try reader.read() }
        }
        var table = try result.get()
        table.text = buffer
        return table
    }

    /// The 1-based number of the first line longer than `limit` bytes, or nil.
    static func longLine(_ data: Data, limit: Int) -> Int? {
        guard data.count > limit else { return nil }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int? in
            guard let base = raw.baseAddress else { return nil }
            var start = 0
            var line = 1
            while start < raw.count {
                let rest = raw.count - start
                guard let hit = memchr(base + start, 0x0A, rest) else { return rest > limit ? line : nil }
                let end = base.distance(to: UnsafeRawPointer(hit))
                if end - start > limit { return line }
                start = end + 1
                line += 1
            }
            return nil
        }
    }

    /// Reads a CSV file from disk; errors name the file by its last path component.
    public static func readCSV(at url: URL) throws(MLError) -> Table {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: (error as NSError).localizedDescription.lowercased())
        }
        return try parseCSV(data, source: url.lastPathComponent)
    }
}

/// A byte-level CSV scanner that unescapes quoted fields in place.
private struct CSVReader {
    let p: UnsafeMutableBufferPointer<UInt8>
    let source: String
    var pos = 0
    var line = 1
    var recordLine = 1
    var fieldStarts: [Int] = []
    var fieldEnds: [Int] = []
    var fieldCount = 0

    static let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D

    init(bytes: UnsafeMutableBufferPointer<UInt8>, source: String) {
        self.p = bytes
        self.source = source
        if p.count >= 3, p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF { pos = 3 }
    }

    mutating func read() throws(MLError) -> Table {
        guard try readRecord() else { throw .emptyFile(source: source) }
        var names = [String]()
        for i in 0..<fieldCount {
            var name = String(decoding: UnsafeBufferPointer(rebasing: p[fieldStarts[i]..<fieldEnds[i]]), as: UTF8.self)
            if name.isEmpty { name = "column_\(i + 1)" }
            names.append(name)
        }
        try Table.checkNames(names, source: source)
        let width = names.count
        // Rough row estimate from the header's share of the file, to reserve once.
        let estimate = max(16, p.count / max(1, pos) + 16)
        var columns = (0..<width).map { _ in Table.ColumnStore(capacity: min(estimate, 1 << 22)) }
        var lines = [Int]()
        lines.reserveCapacity(min(estimate, 1 << 22))
        var rows = 0
        let base = UnsafePointer(p.baseAddress!)
        while try readRecord() {
            guard fieldCount == width else {
                throw .raggedRow(source: source, line: recordLine, fields: fieldCount, expected: width)
            }
            for c in 0..<width {
                columns[c].append(base, fieldStarts[c], fieldEnds[c], row: rows)
            }
            lines.append(recordLine)
            rows += 1
        }
        guard rows > 0 else { throw .noDataRows(source: source) }
        return Table(columnNames: names, rowCount: rows, source: source, text: [], columns: columns, lines: lines)
    }

    @inline(__always)
    mutating func addField(_ start: Int, _ end: Int) {
        if fieldCount == fieldStarts.count {
            fieldStarts.append(start)
            fieldEnds.append(end)
        } else {
            fieldStarts[fieldCount] = start
            fieldEnds[fieldCount] = end
        }
        fieldCount += 1
    }

    /// Reads the next non-blank record into `fieldStarts`/`fieldEnds`; false at the end of the data.
    mutating func readRecord() throws(MLError) -> Bool {
        let n = p.count
        while pos < n {
            let b = p[pos]
            if b == Self.lf {
                pos += 1
                line += 1
            } else if b == Self.cr {
                pos += 1
                if pos < n, p[pos] == Self.lf { pos += 1 }
                line += 1
            } else {
                break
            }
        }
        if pos >= n { return false }
        recordLine = line
        fieldCount = 0
        while true {
            let start = pos
            if pos < n, p[pos] == Self.quote {
                let quoteLine = line
                let column = fieldCount + 1
                pos += 1
                let contentStart = pos
                var w = pos
                var closed = false
                while pos < n {
                    let b = p[pos]
                    if b == Self.quote {
                        if pos + 1 < n, p[pos + 1] == Self.quote {
                            p[w] = Self.quote
                            w += 1
                            pos += 2
                            continue
                        }
                        pos += 1
                        closed = true
                        break
                    }
                    if b == Self.lf || (b == Self.cr && !(pos + 1 < n && p[pos + 1] == Self.lf)) { line += 1 }
                    p[w] = b
                    w += 1
                    pos += 1
                }
                guard closed else { throw .unterminatedQuote(source: source, line: quoteLine, column: column) }
                // Text between the closing quote and the delimiter is kept, as most readers do.
                while pos < n {
                    let b = p[pos]
                    if b == Self.comma || b == Self.lf || b == Self.cr { break }
                    p[w] = b
                    w += 1
                    pos += 1
                }
                addField(contentStart, w)
            } else {
                while pos < n {
                    let b = p[pos]
                    if b == Self.comma || b == Self.lf || b == Self.cr { break }
                    pos += 1
                }
                addField(start, pos)
            }
            if pos >= n { return true }
            let b = p[pos]
            pos += 1
            if b == Self.comma { continue }
            if b == Self.cr, pos < n, p[pos] == Self.lf { pos += 1 }
            line += 1
            return true
        }
    }
}
