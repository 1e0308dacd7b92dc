import Foundation
import Testing
@testable import MregML

@Suite struct TableTests {
    @Test func readsQuotedFieldsWithCommasQuotesAndNewlines() throws {
        let text = "\u{FEFF}name,comment,value\r\n\"Smith, J\",\"said \"\"hi\"\"\nthen left\",1.5\r\nDoe,,NA\r\n"
        let table = try Fixtures.csv(text)
        #expect(table.columnNames == ["name", "comment", "value"])
        #expect(table.rowCount == 2)
        #expect(table.column("name") == ["Smith, J", "Doe"])
        #expect(table.column("comment") == ["said \"hi\"\nthen left", nil])
        #expect(table.column("value") == ["1.5", nil])
        #expect(table.inferredType(of: "value") == .numeric)
        #expect(table.inferredType(of: "name") == .categorical)
        // The second record starts on line 4: the quoted field of the first spans lines 2 and 3.
        #expect(table.line(ofRow: 0) == 2)
        #expect(table.line(ofRow: 1) == 4)
    }

    @Test func missingMarkersAndEmptyCellsAreMissing() throws {
        let table = try Fixtures.csv("a,b\nNA,x\n,y\nN/A,z\nnull,\nNaN,\"\"\n2,NULL")
        #expect(table.column("a") == [nil, nil, nil, nil, nil, "2"])
        #expect(table.column("b") == ["x", "y", "z", nil, nil, nil])
        #expect(table.missingCount(of: "a") == 5)
        let numbers = try #require(table.numericColumn("a"))
        #expect(numbers.prefix(5).allSatisfy { $0.isNaN })
        #expect(numbers[5] == 2)
    }

    @Test func skipsBlankLinesAndHandlesMissingFinalNewline() throws {
        let table = try Fixtures.csv("a,b\n\n1,2\r\n\r\n3,4")
        #expect(table.rowCount == 2)
        #expect(table.numericColumn("b") == [2, 4])
        #expect(table.line(ofRow: 1) == 5)
    }

    @Test func lineEndsOfEveryKind() throws {
        let crlf = try Fixtures.csv("a,b\r\n\"x\r\ny\",1\r\nz,2\r\n")
        #expect(crlf.column("a") == ["x\r\ny", "z"])
        #expect(crlf.line(ofRow: 1) == 4)
        let cr = try Fixtures.csv("a,b\r1,2\r3,4\r")
        #expect(cr.numericColumn("b") == [2, 4])
        #expect(cr.line(ofRow: 1) == 3)
        let ragged = failure { try Fixtures.csv("a,b\r\n\"multi\nline\",1\r\n5\r\n") }
        #expect(ragged == .raggedRow(source: "test.csv", line: 4, fields: 1, expected: 2))
    }

    @Test func trailingCommaIsAnEmptyLastField() throws {
        let table = try Fixtures.csv("a,b\n1,\n")
        #expect(table.column("b") == [nil])
    }

    @Test func emptyHeaderNamesGetPositions() throws {
        let table = try Fixtures.csv(",x\n1,2")
        #expect(table.columnNames == ["column_1", "x"])
    }

    @Test func infersNumbersOnlyWhenEveryValueIsOne() throws {
        let table = try Fixtures.csv("a,b,c,d\n1e3,0x10,\" 7 \",inf\n-2.5,3,+3,1\n.5,4,5.,2")
        #expect(table.numericColumn("a") == [1000, -2.5, 0.5])
        #expect(table.inferredType(of: "b") == .categorical)
        #expect(table.numericColumn("c") == [7, 3, 5])
        #expect(table.inferredType(of: "d") == .categorical)
        #expect(table.numericColumn("b") == nil)
    }

    @Test func numberParserMatchesTheStandardLibrary() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<2000 {
            let magnitude = Foundation.pow(10, Double(rng.below(40)) - 20)
            let value = (rng.unit() - 0.5) * magnitude
            #expect(NumberParser.parse(value.description) == value)
        }
        #expect(NumberParser.parse("0.1") == 0.1)
        #expect(NumberParser.parse("123.456e-2") == 1.23456)
        #expect(NumberParser.parse("12345678901234567890") == 12345678901234567890.0)
        #expect(NumberParser.parse("1e400") == nil)
        #expect(NumberParser.parse("1e") == nil)
        #expect(NumberParser.parse(".") == nil)
        #expect(NumberParser.parse("-") == nil)
        #expect(NumberParser.parse("1.2.3") == nil)
        #expect(NumberParser.parse("0e999") == 0)
    }

    @Test func raggedRowNamesFileLineAndCounts() {
        let error = failure { try Fixtures.csv("a,b\n1,2\n3\n", source: "penguins.csv") }
        #expect(error == .raggedRow(source: "penguins.csv", line: 3, fields: 1, expected: 2))
        #expect(error?.description == "penguins.csv: line 3 has 1 field, expected 2")
        let wide = failure { try Fixtures.csv("a,b\n1,2,3\n") }
        #expect(wide?.description == "test.csv: line 2 has 3 fields, expected 2")
    }

    @Test func unterminatedQuoteNamesWhereItStarted() {
        let error = failure { try Fixtures.csv("a,b\n1,2\n3,\"open\n4,5\n") }
        #expect(error == .unterminatedQuote(source: "test.csv", line: 3, column: 2))
        #expect(error?.description == "test.csv: line 3, column 2: quoted field is never closed")
    }

    @Test func duplicateHeaderIsRefused() {
        let error = failure { try Fixtures.csv("a,b,a\n1,2,3\n") }
        #expect(error == .duplicateColumn(source: "test.csv", name: "a", first: 1, second: 3))
        #expect(error?.description == "test.csv: column name 'a' appears twice (columns 1 and 3)")
    }

    @Test func emptyFilesAndHeaderOnlyFiles() {
        #expect(failure { try Fixtures.csv("") } == .emptyFile(source: "test.csv"))
        #expect(failure { try Fixtures.csv("\n\r\n") } == .emptyFile(source: "test.csv"))
        #expect(failure { try Fixtures.csv("\u{FEFF}") } == .emptyFile(source: "test.csv"))
        #expect(failure { try Fixtures.csv("a,b\n") } == .noDataRows(source: "test.csv"))
        #expect(MLError.emptyFile(source: "x.csv").description == "x.csv: file is empty")
    }

    @Test func unreadableFileIsAnError() {
        let error = failure { try Table.readCSV(at: URL(fileURLWithPath: "/nonexistent/data.csv")) }
        guard case .unreadableFile(let path, _)? = error else {
            Issue.record("expected unreadableFile, got \(String(describing: error))")
            return
        }
        #expect(path == "/nonexistent/data.csv")
    }

    @Test func tableFromRowsMatchesCSV() throws {
        let table = try Table(columnNames: ["x", "y"], rows: [["1", "a"], [nil, "NA"], ["3", "c"]])
        #expect(table.numericColumn("x")?[2] == 3)
        #expect(table.column("y") == ["a", nil, "c"])
        #expect(failure { try Table(columnNames: ["x"], rows: [["1", "2"]]) } == .raggedRow(source: "table", line: 2, fields: 2, expected: 1))
    }

    @Test func readsThePenguinsExample() {
        let table = Fixtures.penguins
        #expect(table.rowCount == 344)
        #expect(table.columnNames.count == 8)
        #expect(table.inferredType(of: "bill_length_mm") == .numeric)
        #expect(table.inferredType(of: "sex") == .categorical)
        #expect(table.missingCount(of: "bill_length_mm") == 2)
    }

    @Test func parsesManyRowsQuickly() throws {
        // 20,000 rows x 20 columns; the release-mode figure for 100,000 rows is in docs/benchmarks-ml.md.
        var lines = [(1...20).map { "c\($0)" }.joined(separator: ",")]
        for r in 0..<20_000 { lines.append((0..<20).map { "\(r % 97).\($0)" }.joined(separator: ",")) }
        let data = Data(lines.joined(separator: "\n").utf8)
        let start = Date()
        let table = try Table.parseCSV(data, source: "big.csv")
        #expect(table.rowCount == 20_000)
        #expect(table.numericColumn("c3")?[1] == 1.2)
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
