import Foundation

/// Reads a file or a pipe record by record in bounded memory: a record ends at a line feed (outside
/// double quotes, for CSV), blank records are skipped, and each record keeps the line it starts on.
///
/// `nextChunk` cuts whole records in bulk (for batch scoring): it finds record ends with `memchr` and
/// only walks byte by byte through lines that hold a double quote.
struct RecordReader {
    let handle: FileHandle?
    /// Whether double quotes protect line feeds (CSV) or not (JSON Lines).
    let quoted: Bool
    let source: String
    var buffer: [UInt8] = []
    var start = 0
    var eof = false
    /// The 1-based line the next record starts on.
    var line = 1
    static let chunk = 1 << 20
    /// Longest record accepted: memory stays bounded even by a file without line ends.
    static let maxRecordBytes = 64 << 20

    init(handle: FileHandle, quoted: Bool, source: String) {
        self.handle = handle
        self.quoted = quoted
        self.source = source
    }

    /// A reader of bytes already in memory whose first byte is on line `line`.
    init(bytes: [UInt8], line: Int, quoted: Bool, source: String) {
        self.handle = nil
        self.quoted = quoted
        self.source = source
        self.buffer = bytes
        self.line = line
        self.eof = true
    }

    /// Reads more bytes, dropping what was consumed; false at end of input.
    mutating func fill() throws(MLError) -> Bool {
        guard !eof, let handle else { return false }
        let data: Data?
        do {
            data = try handle.read(upToCount: RecordReader.chunk)
        } catch {
            throw .unreadableFile(path: source, reason: (error as NSError).localizedDescription.lowercased())
        }
        guard let data, !data.isEmpty else {
            eof = true
            return false
        }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: data)
        return true
    }

    /// The next non-blank record (without its line end) and the line it starts on; nil at end of input.
    mutating func next() throws(MLError) -> (bytes: ArraySlice<UInt8>, line: Int)? {
        while true {
            var i = start
            var inQuotes = false
            var newlines = 0
            var end: Int? = nil
            while i < buffer.count {
                let b = buffer[i]
                if b == 0x22, quoted { inQuotes.toggle() }
                if b == 0x0A {
                    if !inQuotes { end = i; break }
                    newlines += 1
                }
                i += 1
            }
            if end == nil {
                guard buffer.count - start <= RecordReader.maxRecordBytes else { throw tooLong(line) }
                if try fill() { continue }
                guard start < buffer.count else { return nil }
                end = buffer.count
            }
            let recordStart = start, recordEnd = end!
            let recordLine = line
            line += newlines + 1
            start = min(recordEnd + 1, buffer.count)
            var trimmed = recordEnd
            if trimmed > recordStart, buffer[trimmed - 1] == 0x0D { trimmed -= 1 }
            let bytes = buffer[recordStart..<trimmed]
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            return (bytes, recordLine)
        }
    }

    /// Every non-blank record left, as `next()` gives them.
    mutating func all() throws(MLError) -> [(bytes: ArraySlice<UInt8>, line: Int)] {
        var out = [(bytes: ArraySlice<UInt8>, line: Int)]()
        while let r = try next() { out.append(r) }
        return out
    }

    func tooLong(_ line: Int) -> MLError {
        .invalidInput("\(source): line \(line) is longer than \(RecordReader.maxRecordBytes >> 20) MB")
    }

    /// Up to `limit` whole records (blank ones included) as one block of bytes, the line its first
    /// byte is on, and the line feeds in it; nil at end of input.
    mutating func nextChunk(records limit: Int) throws(MLError) -> (bytes: [UInt8], line: Int, newlines: Int)? {
        var records = 0
        // One past the last record end found, and the line feeds before it.
        var end = start
        var newlines = 0
        while true {
            // A partial record at the buffer's end is scanned again, from its start, once more is read.
            let step = buffer.withUnsafeBufferPointer { b in
                RecordReader.scan(b, from: end, quoted: quoted, limit: limit - records)
            }
            records += step.records
            newlines += step.newlines
            end = step.end
            if records >= limit { break }
            guard buffer.count - end <= RecordReader.maxRecordBytes else { throw tooLong(line + newlines) }
            let consumed = start
            if try fill() {
                end -= consumed
                continue
            }
            // End of input: the last record may lack its line feed.
            if end < buffer.count {
                newlines += buffer[end...].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                end = buffer.count
            }
            break
        }
        guard end > start else { return nil }
        let bytes = Array(buffer[start..<end])
        let first = line
        line += newlines
        start = end
        return (bytes, first, newlines)
    }

    /// Finds up to `limit` record ends from `from` (the start of a record): the records ended, one past
    /// the last one's line feed, and the line feeds up to there.
    static func scan(_ b: UnsafeBufferPointer<UInt8>, from: Int, quoted: Bool, limit: Int) -> (records: Int, end: Int, newlines: Int) {
        guard let base = b.baseAddress else { return (0, from, 0) }
        var i = from, records = 0, newlines = 0, end = from, endNewlines = 0
        scanning: while i < b.count, records < limit {
            guard let hit = memchr(base + i, 0x0A, b.count - i) else { break }
            let lf = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            // A line without a quote ends a record at its line feed; one with a quote is walked.
            if !quoted || memchr(base + i, 0x22, lf - i) == nil {
                newlines += 1
                records += 1
                i = lf + 1
                end = i
                endNewlines = newlines
                continue
            }
            var inQuotes = false
            while i < b.count {
                let c = base[i]
                i += 1
                if c == 0x22 { inQuotes.toggle() }
                guard c == 0x0A else { continue }
                newlines += 1
                if !inQuotes {
                    records += 1
                    end = i
                    endNewlines = newlines
                    continue scanning
                }
            }
        }
        return (records, end, endNewlines)
    }
}
