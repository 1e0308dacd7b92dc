import Foundation
import MregCore
import MregRegistry

extension UISite {
    /// Lineage, card, metrics per split, evaluations with the confusion matrix, trials, files and
    /// their verify status, from `show`.
    func version(_ page: Page, _ model: String, _ version: String) throws -> String {
        let reference = ModelReference(model: model, target: .version(version))
        let detail = try registry.show(reference)
        let r = detail.record
        var body = "<h1>\(HTML.escape(model))@\(HTML.escape(version))</h1><p><a href=\"\(page.model(model))\">all versions of \(HTML.escape(model))</a> · "
        body += detail.environments.isEmpty ? "<span class=\"muted\">deployed nowhere on main</span>" : detail.environments.map { HTML.badge($0, "env") }.joined()
        body += "</p><h2>Metrics</h2>" + metricsTable(detail.metrics)
        body += try "<h2>Evaluations</h2>" + evaluations(reference, detail.evaluations)
        if !r.trials.isEmpty { body += "<h2>Tuning trials</h2>" + trials(r) }
        body += "<h2>Card</h2>" + card(detail.card)
        body += "<h2>Lineage</h2>" + lineage(r)
        body += try "<h2>Files</h2>" + files(model, version, r)
        return page.document("\(model)@\(version)", body)
    }

    func card(_ card: ModelCard?) -> String {
        guard let card else { return "<p class=\"muted\">no card.md</p>" }
        var out = card.missingFields.isEmpty ? HTML.badge("complete", "ok") : HTML.badge("missing " + card.missingFields.joined(separator: ", "), "warn")
        let fields = card.fields.keys.sorted().filter { $0 != "model-index" }.map { ($0, HTML.escape(HTML.scalar(card.fields[$0]!))) }
        out += HTML.facts(fields) + "<div class=\"card\" id=\"card\">" + Markdown.html(card.body) + "</div>"
        return out
    }

    func lineage(_ r: VersionRecord) -> String {
        var facts: [(String, String)] = [("created", HTML.escape(r.created)), ("author", HTML.escape(r.author)), ("source", HTML.escape(r.source.kind))]
        let optional: [(String, String?)] = [
            ("command", r.source.command), ("message", r.source.message), ("trainer", r.source.trainer),
            ("trainer version", r.source.trainerVersion), ("code commit", r.source.codeCommit), ("task", r.task),
            ("target", r.target), ("algorithm", r.algorithm), ("format", r.format), ("artifact", r.artifact),
            ("seed", r.seed.map { String($0) }),
        ]
        for (k, v) in optional { if let v { facts.append((k, "<span class=\"mono\">\(HTML.escape(v))</span>")) } }
        var out = HTML.facts(facts)
        if case .object(let p) = r.params, !p.isEmpty {
            out += "<h3>Parameters</h3>" + HTML.table(["parameter", "value"], p.keys.sorted().map { [HTML.escape($0), "<span class=\"mono\">\(HTML.escape(HTML.scalar(p[$0]!)))</span>"] }, id: "params")
        }
        if !r.data.isEmpty {
            out += "<h3>Data</h3>" + HTML.table(["role", "path", "sha256", "rows", "columns"], r.data.map { d in
                [HTML.escape(d.role), HTML.escape(d.path), "<span class=\"mono\" title=\"\(HTML.escape(d.sha256))\">\(HTML.escape(String(d.sha256.prefix(16))))…</span>", d.rows.map { "\($0)" } ?? "–", "<span title=\"\(HTML.escape(d.columns.joined(separator: ", ")))\">\(d.columns.count)</span>"]
            }, id: "data", numeric: [3])
        }
        return out
    }

    func metricsTable(_ metrics: MetricsFile?) -> String {
        guard let metrics, !metrics.splits.isEmpty else { return "<p class=\"muted\">no metrics.json</p>" }
        let splits = metrics.splits.keys.sorted()
        let keys = Array(Set(metrics.splits.values.flatMap(\.keys))).sorted()
        let rows = keys.map { k in [HTML.escape(k)] + splits.map { metrics.splits[$0]?[k].map(HTML.metric) ?? "–" } }
        return HTML.table(["metric"] + splits.map(HTML.escape), rows, id: "metrics", numeric: Set(1...splits.count))
    }

    /// The recorded evaluations (newest last) and the confusion matrix of the newest that has one.
    func evaluations(_ reference: ModelReference, _ names: [String]) throws -> String {
        guard !names.isEmpty else { return "<p class=\"muted\">none recorded (<span class=\"mono\">mreg evaluate --record</span>)</p>" }
        let (snap, version) = try registry.resolve(reference)
        var rows = [[String]]()
        var confusion: (classes: [String], matrix: [[Int]], name: String)?
        for name in names {
            let path = "models/\(reference.model)/\(version)/evaluations/\(name)"
            guard let data = try snap.data(path), let json = try? JSONValue.parse(data) else {
                rows.append([HTML.escape(name), "", "", "", HTML.badge("unreadable", "bad"), ""])
                continue
            }
            let metrics = (json["metrics"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                .map { "\(HTML.escape($0.key)) \($0.value.doubleValue.map(HTML.num) ?? "–")" }.joined(separator: ", ")
            let passed = json["passed"]?.boolValue
            rows.append([
                HTML.escape(json["time"]?.stringValue ?? name), HTML.escape(json["environment"]?.stringValue ?? "–"),
                HTML.escape(json["data"]?["source"]?.stringValue ?? "–") + (json["data"]?["rows"]?.intValue.map { " (\($0) rows)" } ?? ""),
                metrics, passed.map { $0 ? HTML.badge("passed", "ok") : HTML.badge("failed", "bad") } ?? "–",
                "<span class=\"mono\">\(HTML.escape(String((json["data"]?["sha256"]?.stringValue ?? "").prefix(12))))</span>",
            ])
            if let c = json["confusionMatrix"], let classes = c["classes"]?.arrayValue?.compactMap(\.stringValue),
               let matrix = c["matrix"]?.arrayValue?.map({ $0.arrayValue?.compactMap(\.intValue) ?? [] }) {
                confusion = (classes, matrix, name)
            }
        }
        var out = HTML.table(["time", "environment", "data", "metrics", "gates", "data sha256"], rows, id: "evaluations")
        if let confusion {
            out += "<h3>Confusion matrix</h3><p class=\"muted\">from \(HTML.escape(confusion.name))</p>"
                + SVG.heatmap(classes: confusion.classes, matrix: confusion.matrix, id: "confusion")
        }
        return out
    }

    func trials(_ r: VersionRecord) -> String {
        let keys = Array(Set(r.trials.flatMap(\.metrics.keys))).sorted()
        let series = keys.prefix(3).map { key in
            SVG.Series(name: key, points: r.trials.enumerated().compactMap { i, t in
                t.metrics[key].map { (Double(i + 1), $0, "trial #\(i + 1) \(key) \(HTML.num($0))" + (r.bestTrial == i ? " (best)" : "")) }
            })
        }
        let markers = r.bestTrial.map { [SVG.Marker(x: Double($0 + 1), label: "best #\($0 + 1)")] } ?? []
        let plot = SVG.lines(Array(series), markers: markers, xLabel: { "#\(Int($0))" }, id: "trials-plot")
        let rows = r.trials.enumerated().map { i, t in
            ["#\(i + 1)" + (r.bestTrial == i ? " " + HTML.badge("best", "ok") : ""), "<span class=\"mono\">\(HTML.escape(t.params.encodedString()))</span>"]
                + keys.map { t.metrics[$0].map(HTML.num) ?? "–" } + [String(format: "%.2f s", t.seconds)]
        }
        return plot + HTML.table(["trial", "params"] + keys.map(HTML.escape) + ["time"], rows, id: "trials")
    }

    /// Files with sizes and checksums, where they live, and whether they match (`verify` for this version).
    func files(_ model: String, _ version: String, _ r: VersionRecord) throws -> String {
        let problems = try registry.verifyVersion(model, version)
        let rows = r.files.map { f in
            [HTML.escape(f.path), "\(f.size)", "<span class=\"mono\">\(HTML.escape(f.sha256))</span>",
             "<span class=\"mono\">git: models/\(HTML.escape(model))/\(HTML.escape(version))/\(HTML.escape(f.path))</span>"]
        }
        let verdict = problems.isEmpty
            ? HTML.badge("verified", "ok") + "<span class=\"muted\">every file matches its size and sha256 in version.yaml</span>"
            : HTML.badge("verify failed", "bad") + "<ul>" + problems.map { "<li>\(HTML.escape($0.description))</li>" }.joined() + "</ul>"
        return "<p id=\"verify\">\(verdict)</p>" + HTML.table(["path", "bytes", "sha256", "where"], rows, id: "files", numeric: [1])
    }
}
