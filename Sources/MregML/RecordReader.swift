import Foundation

/// Reads a file or a pipe record by record in bounded memory: a record ends at a line feed (outside
/// double quotes, for CSV), blank records are skipped, and each record keeps the line it starts on.
struct RecordReader {
    let handle: FileHandle
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

    /// Reads more bytes, dropping what was consumed; false at end of input.
    mutating func fill() throws(MLError) -> Bool {
        guard !eof else { return false }
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
                guard buffer.count - start <= RecordReader.maxRecordBytes else {
                    throw .invalidInput("\(source): line \(line) is longer than \(RecordReader.maxRecordBytes >> 20) MB")
                }
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
}
