import Foundation
import MregCore
import MregTestSupport
import Testing

@testable import MregRegistry

/// Categorical values come from whoever called the server: they must not reach a terminal or a
/// Markdown report as escape sequences, extra lines or table cells.
@Suite(.serialized) struct MonitorEscapeTests {
    static let hostile = "\u{1B}[2J\u{1B}[31mred\r\nDRIFT: none | fake | row |\u{7}\u{202E}gnp.exe\u{85}"

    @Test func categoricalValuesAreEscapedInTextAndMarkdown() throws {
        let (dir, registry) = try MonitorTests.trained()
        defer { dir.remove() }
        let quoted = JSONValue.string(Self.hostile).encodedString()
        let lines = Captures.lines(Captures.sample(150, seed: 3)).map { $0.replacingOccurrences(of: "\"Biscoe\"", with: quoted) }
        dir.write("cap/capture-1.jsonl", lines.joined(separator: "\n") + "\n" + "{\"bad\": \"\u{1B}]0;owned\u{7}\n")
        let report = try registry.monitor(MonitorOptions(reference: try ModelReference(parsing: "penguins@v1"), captures: [dir.sub("cap")]))
        let island = try #require(report.features.first { $0.name == "island" })
        #expect(island.status == .drift, "\(report.text)")
        // The JSON report keeps the value as it was (JSON escapes it itself).
        #expect(report.render(.json).contains(quoted.dropFirst().dropLast()))
        for format in [MonitorFormat.text, .markdown] {
            let out = report.render(format)
            let bad = out.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E }
            #expect(bad.isEmpty, "\(format): \(bad.map { String($0.value, radix: 16) })")
            #expect(out.contains("\\u{1B}[2J"), "\(format)")
            for line in out.split(separator: "\n") {
                #expect(!line.hasPrefix("DRIFT: none") && !line.hasPrefix("**DRIFT: none") && !line.hasPrefix("| fake"), "\(format): \(line)")
            }
        }
        // Markdown tables keep their columns: every row of the feature table has five cells.
        let md = report.render(.markdown)
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| island") || $0.hasPrefix("| unseen") }
        #expect(!rows.isEmpty)
        for row in rows {
            let cells = row.replacingOccurrences(of: "\\|", with: "").split(separator: "|", omittingEmptySubsequences: false)
            #expect(cells.count == 7, "\(row)")
        }
    }
}
