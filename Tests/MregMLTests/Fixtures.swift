import Foundation
import Testing
@testable import MregML

/// Shared test data: the penguins example and small generated tables.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func examplesURL(_ name: String) -> URL {
        root.appendingPathComponent("examples").appendingPathComponent(name)
    }

    static let penguins: Table = {
        try! Table.readCSV(at: examplesURL("penguins.csv"))
    }()

    static func csv(_ text: String, source: String = "test.csv") throws(MLError) -> Table {
        try Table.parseCSV(Data(text.utf8), source: source)
    }

    /// y = 3·x1 - 2·x2 + 5 (+ a category offset) + small deterministic noise.
    static func regressionTable(rows: Int = 200, seed: UInt64 = 7) -> Table {
        var rng = SeededGenerator(seed: seed)
        var lines = ["x1,x2,group,y"]
        for _ in 0..<rows {
            let x1 = rng.uniform(-2, 2), x2 = rng.uniform(-2, 2)
            let group = ["a", "b", "c"][rng.below(3)]
            let offset = group == "a" ? 0.0 : group == "b" ? 1.5 : -1.0
            let y = 3 * x1 - 2 * x2 + 5 + offset + rng.uniform(-0.1, 0.1)
            lines.append("\(x1),\(x2),\(group),\(y)")
        }
        return try! csv(lines.joined(separator: "\n"), source: "linear.csv")
    }
}

/// The error a throwing call ends with, or nil when it succeeds.
func failure<T>(_ body: () throws -> T) -> MLError? {
    do {
        _ = try body()
        return nil
    } catch let error as MLError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}
