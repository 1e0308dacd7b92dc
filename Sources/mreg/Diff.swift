import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two versions: lineage, parameters and metrics side by side with deltas.",
        discussion: """
            Examples:
              mreg diff penguins@v2 penguins@v3
              mreg diff penguins@production penguins@v4 --json
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "The first version (MODEL@VERSION or MODEL@ENV).")
    var a: String

    @Argument(help: "The second version.")
    var b: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let result = try options.open().diff(try ModelReference(parsing: a), try ModelReference(parsing: b))
        if json {
            printJSON(["a": .string(result.a), "b": .string(result.b), "rows": .array(result.rows.map { r in
                ["section": .string(r.section), "key": .string(r.key), "a": r.a ?? .null, "b": r.b ?? .null,
                 "delta": r.delta.map(JSONValue.number) ?? .null]
            })])
            return
        }
        func cell(_ v: JSONValue?) -> String {
            guard let v else { return "-" }
            if let d = v.doubleValue, d.rounded() != d { return fmt(d) }
            if let s = v.stringValue { return s }
            return YAMLNode.scalar(v)
        }
        print(table(["SECTION", "KEY", result.a.uppercased(), result.b.uppercased(), "DELTA"], result.rows.map { r in
            [r.section, r.key, cell(r.a), cell(r.b), r.delta.map { $0 == 0 ? "=" : ($0 > 0 ? "+" : "") + fmt($0) } ?? (r.a == r.b ? "=" : "changed")]
        }))
    }
}
