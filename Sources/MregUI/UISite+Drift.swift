import Foundation
import MregCore
import MregRegistry

extension UISite {
    /// Computes a monitor report from capture files (what `mreg monitor REF --capture DIR` does) and
    /// shows it on the drift pages.
    public func addDrift(reference: String, capture: String) throws {
        let report = try registry.monitor(MonitorOptions(reference: try ModelReference(parsing: reference), captures: [capture]))
        driftReports.append(DriftReport(model: report.model, source: capture, json: report.json))
    }

    func driftIndex(_ page: Page) -> String {
        var body = "<h1>Drift</h1>"
        guard !driftReports.isEmpty else {
            return page.document("drift", body + "<p class=\"muted\">no monitor report given (<span class=\"mono\">mreg ui --monitor-report FILE</span> or <span class=\"mono\">--capture MODEL@VERSION=DIR</span>)</p>")
        }
        let rows = driftReports.map { r in
            [
                "<a href=\"\(page.href("drift/\(r.model)/"))\">\(HTML.escape(r.model))@\(HTML.escape(r.json["version"]?.stringValue ?? "?"))</a>",
                driftBadge(page, r.model), "\(r.json["window"]?["rows"]?.intValue ?? 0)",
                "\(r.json["dataset"]?["drifted"]?.intValue ?? 0) of \(r.json["dataset"]?["judged"]?.intValue ?? 0)",
                "<span class=\"mono\">\(HTML.escape(r.source))</span>",
            ]
        }
        body += HTML.table(["model", "verdict", "rows", "features drifted", "from"], rows, id: "drift-reports")
        return page.document("drift", body)
    }

    /// One report: the verdict, window, thresholds, and per feature the statistics and the baseline
    /// vs live histogram.
    func drift(_ page: Page, _ model: String) throws -> String {
        guard let report = driftReports.last(where: { $0.model == model }) else {
            throw UIError.notFound("model '\(model)' has no monitor report here")
        }
        let j = report.json
        let version = j["version"]?.stringValue ?? "?"
        var body = "<h1>Drift of <a href=\"\(page.model(model))\">\(HTML.escape(model))</a>@\(HTML.escape(version))</h1>"
        body += "<p id=\"verdict\">" + driftBadge(page, model) + " <span class=\"muted\">from \(HTML.escape(report.source))</span></p>"
        let w = j["window"]
        body += HTML.facts([
            ("rows", "\(w?["rows"]?.intValue ?? 0) in \(w?["records"]?.intValue ?? 0) records, \(w?["files"]?.intValue ?? 0) files"),
            ("window", HTML.escape((w?["first"]?.stringValue ?? "–") + " – " + (w?["last"]?.stringValue ?? "–"))),
            ("malformed lines", "\(w?["malformedLines"]?.intValue ?? 0)" + (w?["firstMalformed"]?.stringValue.map { " (first: \(HTML.escape($0)))" } ?? "")),
            ("features drifted", "\(j["dataset"]?["drifted"]?.intValue ?? 0) of \(j["dataset"]?["judged"]?.intValue ?? 0) judged (dataset drift at \(HTML.num((j["dataset"]?["driftShare"]?.doubleValue ?? 0) * 100))%)"),
        ])
        if let a = j["accuracy"] {
            body += "<h2>Live accuracy</h2>" + HTML.facts([
                ("metric", HTML.escape(a["metric"]?.stringValue ?? "–")), ("value", a["value"]?.doubleValue.map(HTML.num) ?? "–"),
                ("bound", a["bound"]?.doubleValue.map(HTML.num) ?? "–"), ("labeled rows", "\(a["labeledRows"]?.intValue ?? 0)"),
                ("status", HTML.escape(a["status"]?.stringValue ?? "–")),
            ])
        }
        body += "<h2>Features</h2>"
        for (i, f) in (j["features"]?.arrayValue ?? []).enumerated() { body += feature(f, index: i) }
        if let t = j["thresholds"]?.objectValue {
            body += "<h2>Thresholds</h2>" + HTML.facts(t.keys.sorted().map { ($0, HTML.escape(HTML.scalar(t[$0]!))) })
        }
        return page.document("drift \(model)", body)
    }

    func feature(_ f: JSONValue, index: Int) -> String {
        let status = f["status"]?.stringValue ?? "unknown"
        let kind = status == "ok" ? "ok" : status == "drift" ? "bad" : "warn"
        var out = "<section class=\"feature\"><h3>\(HTML.badge(status, kind))\(HTML.escape(f["name"]?.stringValue ?? "?")) <span class=\"muted\">\(HTML.escape(f["type"]?.stringValue ?? "")) · \(f["rows"]?.intValue ?? 0) rows · \(f["missing"]?.intValue ?? 0) missing</span></h3>"
        let checks = (f["checks"]?.arrayValue ?? []).map { c in
            [
                HTML.escape(c["name"]?.stringValue ?? ""), c["value"]?.doubleValue.map(HTML.num) ?? "–",
                c["threshold"]?.doubleValue.map(HTML.num) ?? "–", c["gated"]?.boolValue == true ? "yes" : "no",
                c["passed"]?.boolValue == true ? HTML.badge("pass", "ok") : HTML.badge("fail", "bad"), HTML.escape(c["detail"]?.stringValue ?? ""),
            ]
        }
        out += HTML.table(["statistic", "value", "threshold", "gated", "verdict", "detail"], checks, numeric: [1, 2])
        if let h = f["histogram"], let labels = h["labels"]?.arrayValue?.compactMap(\.stringValue) {
            let baseline = (h["baseline"]?.arrayValue ?? []).map(\.doubleValue)
            let live = (h["live"]?.arrayValue ?? []).map(\.doubleValue)
            out += SVG.bars(labels: labels, series: [("baseline", baseline), ("live", live)], id: "histogram-\(index)", height: 200)
        }
        return out + "</section>"
    }
}
