import Foundation
import Testing

@testable import MregML

/// Hostile CSV files: numbers that overflow training, very wide headers, very long lines.
@Suite struct CSVLimitsTests {
    /// 40 rows of two numeric features and a class; `x` of row `row` (0-based) is `value`.
    static func table(x value: String, row: Int, target: String = "label") throws -> Table {
        var text = "x,y,label,amount\n"
        for r in 0..<40 {
            text += "\(r == row ? value : String(Double(r % 7) + 0.5)),\(r % 5),\(r % 2 == 0 ? "a" : "b"),\(r * 3 + 1)\n"
        }
        return try Table.parseCSV(Data(text.utf8), source: "big.csv")
    }

    @Test(arguments: [Algorithm.logistic, .gbdt, .mlp])
    func aValueThatOverflowsTrainingIsAnErrorNamingTheCell(_ algorithm: Algorithm) throws {
        for value in ["1.7e308", "-1.7976931348623157e308", "2e150"] {
            let table = try Self.table(x: value, row: 6)
            #expect(throws: MLError.numberTooLarge(source: "big.csv", line: 8, column: "x", value: value, limit: 1e150)) {
                try train(TrainRequest(table: table, target: "label", algorithm: algorithm, seed: 1))
            }
        }
        let error = MLError.numberTooLarge(source: "big.csv", line: 8, column: "x", value: "1.7e308", limit: 1e150)
        #expect(error.description == "big.csv: line 8, column 'x': '1.7e308' is too large to train on (magnitude at most 1e+150)")
        // Up to the limit, training works and stays finite.
        let edge = try Self.table(x: "-1e150", row: 6)
        let outcome = try train(TrainRequest(table: edge, target: "label", algorithm: algorithm, seed: 1))
        #expect(outcome.artifact.encoded().count > 0)
    }

    @Test func anOverflowingRegressionTargetIsAnErrorToo() throws {
        var text = "x,amount\n"
        for r in 0..<40 { text += "\(r),\(r == 3 ? "1.7e308" : String(r * 2))\n" }
        let table = try Table.parseCSV(Data(text.utf8), source: "t.csv")
        #expect(throws: MLError.numberTooLarge(source: "t.csv", line: 5, column: "amount", value: "1.7e308", limit: 1e150)) {
            try train(TrainRequest(table: table, target: "amount", task: .regression, algorithm: .linear, seed: 1))
        }
    }

    /// Looking a column up by name is a dictionary lookup: over 100,000 columns, one lookup per
    /// column took minutes when each scanned the header.
    @Test func columnLookupIsLinearInTheWidth() throws {
        let width = 100_000
        var text = (0..<width).map { "c\($0)" }.joined(separator: ",") + "\n"
        text += (0..<width).map { String($0 % 10) }.joined(separator: ",") + "\n"
        let table = try Table.parseCSV(Data(text.utf8), source: "wide.csv")
        let start = Date()
        var found = 0
        for name in table.columnNames where table.columnIndex(name) != nil { found += 1 }
        #expect(found == width)
        #expect(table.columnIndex("c99999") == 99_999 && table.columnIndex("nope") == nil)
        #expect(Date().timeIntervalSince(start) < 10, "\(Date().timeIntervalSince(start)) s for \(width) lookups")
    }

    @Test func aLineOverTheLimitIsRefusedBeforeItIsRead() throws {
        let long = "a,b\n1,2\n" + String(repeating: "9", count: 5000) + ",3\n4,5\n"
        #expect(throws: MLError.lineTooLong(source: "long.csv", line: 3, limit: 4096)) {
            try Table.parseCSV(Data(long.utf8), source: "long.csv", maxLineBytes: 4096)
        }
        // Without a newline at all, and a last line without one.
        #expect(Table.longLine(Data(String(repeating: "x", count: 5000).utf8), limit: 4096) == 1)
        #expect(Table.longLine(Data(("a\n" + String(repeating: "x", count: 5000)).utf8), limit: 4096) == 2)
        #expect(Table.longLine(Data(("a\n" + String(repeating: "x", count: 4096) + "\nb").utf8), limit: 4096) == nil)
        #expect(try Table.parseCSV(Data(long.utf8), source: "long.csv", maxLineBytes: 8192).rowCount == 3)
        #expect(MLError.lineTooLong(source: "long.csv", line: 3, limit: 4096).description == "long.csv: line 3 is longer than 4096 bytes")
    }
}
