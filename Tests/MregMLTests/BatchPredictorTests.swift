import Foundation
import MregCore
import MregTestSupport
import Testing

@testable import MregML

@Suite("Batch scoring streams in order whatever the batch size")
struct BatchPredictorTests {
    func run(_ text: String, batch: Int, input: BatchOptions.Format = .csv, output: BatchOptions.Format = .csv,
             skip: Bool = false) throws -> (String, BatchSummary) {
        let dir = TempDir("mreg-batch")
        defer { dir.remove() }
        let inPath = dir.write("in", text)
        FileManager.default.createFile(atPath: dir.sub("out"), contents: nil)
        let model = try LightGBMModel(text: HandModels.lgb())
        let options = BatchOptions(input: input, output: output, model: "m", version: "v1", source: "in.csv",
                                   probabilities: true, keep: ["id"], skipBadRows: skip, batchRows: batch)
        let out = FileHandle(forWritingAtPath: dir.sub("out"))!
        let summary = try BatchPredictor(scorer: model, options: options).run(input: FileHandle(forReadingAtPath: inPath)!, output: out)
        try out.close()
        return (try String(contentsOfFile: dir.sub("out"), encoding: .utf8), summary)
    }

    @Test("small batches in parallel waves give the bytes of one batch")
    func order() throws {
        var rows = ["id,a,b"]
        for i in 0..<5000 { rows.append("r\(i),\(Double(i % 10) / 10),\(i % 3)") }
        let text = rows.joined(separator: "\r\n") + "\r\n"
        let (one, s1) = try run(text, batch: 100_000)
        for size in [1, 7, 1000] {
            let (many, s) = try run(text, batch: size)
            #expect(many == one, "batch size \(size)")
            #expect(s == s1)
        }
        #expect(one.hasPrefix("id,prediction,proba_0,proba_1,model,version\nr0,0,"))
        #expect(s1.written == 5000)
    }

    @Test("quoted line breaks, bad rows in late batches and their line numbers")
    func badRowsAcrossBatches() throws {
        let text = "id,a,b\n\"multi\nline\",0.1,1\nr2,0.5,1\nr3,0.5\nr4,abc,1\nr5,0.9,2\n"
        let (out, s) = try run(text, batch: 2, skip: true)
        #expect(s == BatchSummary(rows: 5, written: 3, skipped: 2, firstSkip: "line 5: has 2 fields, expected 3"))
        #expect(out.split(separator: "\n").count == 5)  // header, the quoted id's two lines, r2, r5
        #expect(throws: MLError.invalidInput("in.csv: line 6: column 'a': 'abc' is not a number")) {
            _ = try run("id,a,b\n\"multi\nline\",0.1,1\nr2,0.5,1\nx,0.5,1\nr4,abc,1\n", batch: 1)
        }
    }

    @Test("the plain-bytes reader and the table reader agree, across read buffers and quoted line breaks")
    func plainAndTableReadersAgree() throws {
        // Over 1 MB (the read size), with quoted multi-line ids, blanks, missing markers and blank lines.
        var rows = [String]()
        var line = 2
        var badLine = 0
        var blank = 0
        for i in 0..<80_000 {
            switch i % 997 {
            case 5: rows.append("\"q\(i)\nsecond, line\", 0.35 ,2"); line += 2
            case 9: rows.append("r\(i),NA,"); line += 1
            case 11: rows.append("   "); line += 1; blank += 1
            case 13: rows.append(""); line += 1; blank += 1
            default: rows.append("r\(i),\(Double(i % 17) / 16),\(i % 3)"); line += 1
            }
            if i == 79_000 { rows.append("bad,zz,1"); badLine = line; line += 1 }
        }
        let body = rows.joined(separator: "\n") + "\n"
        #expect(body.utf8.count > RecordReader.chunk)
        let (plain, s1) = try run("id,a,b\n" + body, batch: 4096, skip: true)
        // A quoted header name sends every batch through the table reader.
        let (table, s2) = try run("\"id\",a,b\n" + body, batch: 4096, skip: true)
        let (small, s3) = try run("id,a,b\n" + body, batch: 3, skip: true)
        #expect(plain == table)
        #expect(plain == small)
        #expect(s1 == s2 && s1 == s3)
        #expect(s1.skipped == 1 && s1.firstSkip == "line \(badLine): column 'a': 'zz' is not a number", "\(s1)")
        #expect(s1.rows == 80_001 - blank, "blank records are not rows")
    }

    @Test("JSON Lines in, CSV out")
    func jsonLines() throws {
        let (out, s) = try run("{\"id\": \"a,b\", \"a\": 0.1, \"b\": 1}\n{\"id\": 2, \"a\": \"0.9\", \"b\": \"1\"}\n", batch: 1, input: .jsonl)
        #expect(s.written == 2)
        #expect(out.split(separator: "\n").dropFirst().map { $0.split(separator: ",").last } == ["v1", "v1"])
        #expect(out.contains("\"a,b\",0,"))
    }
}
