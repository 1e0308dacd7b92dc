import Foundation
import MregCore
import Testing
@testable import MregML

@Suite struct DocumentationTests {
    /// Every parameter appears in docs/algorithms.md with its default and searched values.
    @Test func algorithmsDocListsEveryParameter() throws {
        let doc = try String(contentsOf: Fixtures.root.appendingPathComponent("docs/algorithms.md"), encoding: .utf8)
        for algorithm in Algorithm.allCases {
            for p in Hyperparameters.parameters(for: algorithm) {
                let row = doc.split(separator: "\n").first { $0.hasPrefix("| `\(p.name)` |") && $0.contains(Self.text(p.defaultValue)) }
                #expect(row != nil, "\(algorithm.rawValue).\(p.name) default \(Self.text(p.defaultValue))")
                guard let row else { continue }
                for value in p.grid.map(Self.text) { #expect(row.contains(value), "\(p.name) grid value \(value)") }
            }
        }
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .number(let d):
            if d.rounded() == d { return String(Int(d)) }
            let fixed = String(format: "%.10f", d).replacingOccurrences(of: "0+$", with: "", options: .regularExpression)
            return fixed
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .array(let items): return items.map(text).joined(separator: ",")
        default: return value.encodedString()
        }
    }
}
