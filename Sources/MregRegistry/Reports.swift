import Foundation
import MregCore

/// Output formats of evaluation reports.
public enum ReportFormat: String, CaseIterable {
    case text, json, markdown, junit
}

/// Renders evaluation results as text, JSON, Markdown (for a pull-request comment) or JUnit XML.
public enum Reports {
    static func num(_ d: Double) -> String { String(format: "%.4f", d) }

    // MARK: - One evaluation

    public static func render(_ report: EvaluationReport, as format: ReportFormat) -> String {
        switch format {
        case .text: return text(report)
        case .json: return json(report).encodedString(pretty: true)
        case .markdown: return markdown(title: "mreg evaluate \(report.model)@\(report.version)", items: [(nil, report)])
        case .junit: return junit(name: "mreg evaluate", items: [("\(report.model)@\(report.version)", report)])
        }
    }

    static func text(_ r: EvaluationReport) -> String {
        var out = "\(r.model)@\(r.version) on \(r.source)" + (r.rows.map { " (\($0) rows)" } ?? "") + "\n"
        for key in r.metrics.keys.sorted() { out += "  \(key.padding(toLength: 18, withPad: " ", startingAt: 0)) \(num(r.metrics[key]!))\n" }
        if let m = r.confusionMatrix, let c = r.classes, !c.isEmpty {
            let width = max(8, c.map(\.count).max() ?? 0)
            out += "  confusion matrix (rows: true, columns: predicted)\n"
            out += "    " + "".padding(toLength: width, withPad: " ", startingAt: 0) + c.map { " " + $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined() + "\n"
            for (i, row) in m.enumerated() {
                out += "    " + c[i].padding(toLength: width, withPad: " ", startingAt: 0) + row.map { " " + String($0).padding(toLength: width, withPad: " ", startingAt: 0) }.joined() + "\n"
            }
        }
        for p in r.problems { out += "FAIL integrity: \(p)\n" }
        if let env = r.environment {
            out += "gates of \(env)" + (r.champion.map { " (champion \($0.version))" } ?? " (no champion yet)") + "\n"
            for g in r.gates { out += "  \(g.passed ? "pass" : "FAIL")  \(g.rule.padding(toLength: 40, withPad: " ", startingAt: 0))  \(g.detail)\n" }
            if let w = r.waiver { out += "waived: \(w)\n" }
            out += r.passed ? "PASSED\n" : "FAILED\n"
        } else if !r.problems.isEmpty {
            out += "FAILED\n"
        }
        return out
    }

    public static func json(_ r: EvaluationReport) -> JSONValue {
        var o: [String: JSONValue] = [
            "model": .string(r.model), "version": .string(r.version), "source": .string(r.source),
            "metrics": .object(r.metrics.mapValues(JSONValue.number)), "passed": .bool(r.passed),
            "problems": .array(r.problems.map(JSONValue.string)),
        ]
        if let v = r.rows { o["rows"] = .number(Double(v)) }
        if let v = r.dataSHA256 { o["dataSha256"] = .string(v) }
        if let m = r.confusionMatrix, let c = r.classes {
            o["confusionMatrix"] = ["classes": .array(c.map(JSONValue.string)), "matrix": .array(m.map { .array($0.map { .number(Double($0)) }) })]
        }
        if let env = r.environment {
            o["environment"] = .string(env)
            o["champion"] = r.champion.map { ["version": .string($0.version), "metrics": .object($0.metrics.mapValues(JSONValue.number))] } ?? .null
            o["gates"] = .array(r.gates.map(ruleJSON))
            if let w = r.waiver { o["waiver"] = .string(w) }
        }
        if let c = r.recorded { o["recordedCommit"] = .string(c.hex) }
        return .object(o)
    }

    static func ruleJSON(_ g: RuleResult) -> JSONValue {
        var o: [String: JSONValue] = ["rule": .string(g.rule), "passed": .bool(g.passed), "detail": .string(g.detail)]
        if let v = g.metric { o["metric"] = .string(v) }
        if let v = g.value { o["value"] = .number(v) }
        if let v = g.bound { o["bound"] = .number(v) }
        return .object(o)
    }

    // MARK: - CI mode

    public static func render(_ report: ChangedReport, as format: ReportFormat) -> String {
        switch format {
        case .text:
            if report.items.isEmpty { return "no new versions or deployment changes since \(report.base.short)\n" }
            return report.items.map { "== \($0.title)\n" + text($0.report) }.joined(separator: "\n")
                + (report.passed ? "\nall checks passed\n" : "\nchecks FAILED\n")
        case .json:
            return JSONValue.object([
                "base": .string(report.base.hex), "head": .string(report.head.hex), "passed": .bool(report.passed),
                "items": .array(report.items.map { item in
                    var o = json(item.report).objectValue ?? [:]
                    o["kind"] = .string(item.kind == .newVersion ? "new-version" : "deployment")
                    o["title"] = .string(item.title)
                    if let p = item.previous { o["previous"] = .string(p) }
                    return .object(o)
                }),
            ]).encodedString(pretty: true)
        case .markdown:
            return markdown(title: "mreg evaluate --changed (\(report.base.short)..\(report.head.short))",
                            items: report.items.map { ($0.title, $0.report) })
        case .junit:
            return junit(name: "mreg evaluate --changed", items: report.items.map { ($0.title, $0.report) })
        }
    }

    /// A Markdown section per item: metrics, integrity and gate results as tables.
    static func markdown(title: String, items: [(String?, EvaluationReport)]) -> String {
        let passed = items.allSatisfy { $0.1.passed }
        var out = "## \(passed ? "✅" : "❌") \(title)\n\n"
        if items.isEmpty { out += "No new versions or deployment changes.\n" }
        for (heading, r) in items {
            out += "### \(r.passed ? "✅" : "❌") \(heading ?? "\(r.model)@\(r.version)")\n\n"
            out += "Metrics of `\(r.model)@\(r.version)` on \(r.source)" + (r.rows.map { " (\($0) rows)" } ?? "") + ".\n\n"
            if !r.metrics.isEmpty {
                let championMetrics = r.champion?.metrics ?? [:]
                let withChampion = r.champion != nil
                out += "| metric | \(r.version) |" + (withChampion ? " \(r.champion!.version) (champion) | Δ |" : "") + "\n"
                out += "|---|---:|" + (withChampion ? "---:|---:|" : "") + "\n"
                for key in r.metrics.keys.sorted() {
                    let v = r.metrics[key]!
                    out += "| \(key) | \(num(v)) |"
                    if withChampion {
                        if let c = championMetrics[key] { out += " \(num(c)) | \(v - c >= 0 ? "+" : "")\(num(v - c)) |" } else { out += " – | – |" }
                    }
                    out += "\n"
                }
                out += "\n"
            }
            for p in r.problems { out += "- ❌ integrity: \(p)\n" }
            if let env = r.environment {
                out += "Gates of **\(env)**:\n\n| rule | result | detail |\n|---|---|---|\n"
                for g in r.gates { out += "| `\(g.rule)` | \(g.passed ? "✅ pass" : "❌ fail") | \(g.detail.replacingOccurrences(of: "|", with: "\\|")) |\n" }
                if let w = r.waiver { out += "\n> ⚠️ Failing gates waived: \(w.replacingOccurrences(of: "\n", with: " "))\n" }
                out += "\n"
            }
        }
        return out
    }

    /// JUnit XML: a test suite per item, a test case per check.
    static func junit(name: String, items: [(String, EvaluationReport)]) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var suites = ""
        var totalTests = 0, totalFailures = 0
        for (title, r) in items {
            var cases = [(String, String?)]()
            cases.append(("integrity", r.problems.isEmpty ? nil : r.problems.joined(separator: "; ")))
            for g in r.gates { cases.append((g.rule, g.passed || r.waiver != nil ? nil : g.detail)) }
            let failures = cases.filter { $0.1 != nil }.count
            totalTests += cases.count
            totalFailures += failures
            suites += "  <testsuite name=\"\(esc(title))\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
            for (caseName, failure) in cases {
                suites += "    <testcase classname=\"\(esc("\(r.model)@\(r.version)"))\" name=\"\(esc(caseName))\""
                if let failure {
                    suites += ">\n      <failure message=\"\(esc(failure))\"/>\n    </testcase>\n"
                } else {
                    suites += "/>\n"
                }
            }
            suites += "  </testsuite>\n"
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"\(esc(name))\" tests=\"\(totalTests)\" failures=\"\(totalFailures)\">\n" + suites + "</testsuites>\n"
    }
}
