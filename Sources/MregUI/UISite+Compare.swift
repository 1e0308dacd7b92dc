import Foundation
import MregCore
import MregRegistry

extension UISite {
    /// `/compare?v=m@v1&v=m@v2…`: two to eight versions side by side.
    func compare(_ page: Page, references: [String]) throws -> String {
        guard (2...8).contains(references.count) else {
            throw RegistryError.invalidInput("compare needs 2 to 8 versions as ?v=MODEL@VERSION&v=…, got \(references.count)")
        }
        return try compareBody(page, references.map { text in
            guard text.utf8.count <= 200 else { throw RegistryError.invalidInput("reference '\(text.prefix(40))…' is too long") }
            return try ModelReference(parsing: text)
        })
    }

    /// The model's latest version beside what each environment serves (what the export links to).
    func defaultCompare(_ page: Page, _ model: String) throws -> String {
        let versions = try registry.listVersions(model)
        var picked = [String]()
        for v in versions.reversed() where !v.environments.isEmpty || v.version == versions.last?.version {
            if !picked.contains(v.version) { picked.append(v.version) }
            if picked.count == 4 { break }
        }
        if picked.count == 1, versions.count > 1 { picked.append(versions[versions.count - 2].version) }
        guard !picked.isEmpty else { throw RegistryError.invalidInput("model '\(model)' has no versions to compare") }
        return try compareBody(page, picked.reversed().map { ModelReference(model: model, target: .version($0)) })
    }

    func compareBody(_ page: Page, _ references: [ModelReference]) throws -> String {
        let details = try references.map { try registry.show($0) }
        let names = details.map { "\($0.record.model)@\($0.record.version)" }
        var body = "<h1>Compare " + details.map { page.versionLink($0.record.model, $0.record.version, text: "\($0.record.model)@\($0.record.version)") }.joined(separator: " · ") + "</h1>"
        let header = [""] + names.map(HTML.escape)
        func row(_ label: String, _ values: [JSONValue?]) -> [String] {
            var cells = [HTML.escape(label)]
            let first = values.first??.doubleValue
            for (i, v) in values.enumerated() {
                var cell = v.map { HTML.escape(HTML.scalar($0)) } ?? "–"
                if i > 0, let a = first, let b = v?.doubleValue, b != a, case .number = v! { cell += " <span class=\"muted\">(\(HTML.delta(b - a)))</span>" }
                if i > 0, v != values[0] { cell = "<strong>\(cell)</strong>" }
                cells.append(cell)
            }
            return cells
        }
        let splits = details.map { $0.metrics?.splits ?? [:] }
        var metricRows = [[String]]()
        for split in Array(Set(splits.flatMap(\.keys))).sorted() {
            for key in Array(Set(splits.flatMap { Array(($0[split] ?? [:]).keys) })).sorted() {
                metricRows.append(row("\(split) \(key)", splits.map { $0[split]?[key].map(JSONValue.number) }))
            }
        }
        body += "<h2>Metrics</h2><p class=\"muted\">deltas against the first version</p>" + HTML.table(header, metricRows, id: "compare-metrics")
        let primary = details.map { $0.metrics?.primary ?? [:] }
        let keys = Array(Set(primary.flatMap(\.keys))).sorted()
        body += SVG.bars(labels: keys, series: zip(names, primary).map { n, m in (n, keys.map { m[$0] }) }, id: "compare-plot")
        let lineage: [(String, (VersionRecord) -> JSONValue?)] = [
            ("created", { .string($0.created) }), ("author", { .string($0.author) }), ("source", { .string($0.source.kind) }),
            ("algorithm", { $0.algorithm.map(JSONValue.string) }), ("seed", { $0.seed.map { .number(Double($0)) } }),
            ("code commit", { $0.source.codeCommit.map(JSONValue.string) }),
        ]
        body += "<h2>Lineage</h2>" + HTML.table(header, lineage.map { l in row(l.0, details.map { l.1($0.record) }) }, id: "compare-lineage")
        let params = details.map { $0.record.params.objectValue ?? [:] }
        let paramKeys = Array(Set(params.flatMap(\.keys))).sorted()
        body += "<h2>Parameters</h2>" + HTML.table(header, paramKeys.map { k in row(k, params.map { $0[k] }) }, id: "compare-params")
        let trialSeries = zip(names, details).compactMap { n, d -> SVG.Series? in
            let key = d.record.trials.first?.metrics.keys.sorted().first
            guard let key else { return nil }
            return SVG.Series(name: "\(n) \(key)", points: d.record.trials.enumerated().compactMap { i, t in
                t.metrics[key].map { (Double(i + 1), $0, "\(n) trial #\(i + 1) \(key) \(HTML.num($0))") }
            })
        }
        if !trialSeries.isEmpty {
            body += "<h2>Tuning trials</h2>" + SVG.lines(trialSeries, xLabel: { "#\(Int($0))" }, id: "compare-trials")
        }
        return page.document("compare " + names.joined(separator: " "), body)
    }
}
