import Foundation
import MregCore
import MregRegistry

extension UISite {
    /// The versions table (sortable), the primary metrics across versions with each environment's
    /// champion marked, and the deployment timeline per environment.
    func model(_ page: Page, _ name: String, parameters: [(String, String)]) throws -> String {
        let versions = try registry.listVersions(name)
        let spec = try registry.head().modelSpecIfPresent(name)
        let keys = Array(Set(versions.flatMap { $0.metrics.keys })).sorted().prefix(5)
        var body = "<h1>\(HTML.escape(name))</h1>"
        if let d = spec?.description { body += "<p class=\"description\">\(HTML.escape(d))</p>" }
        body += HTML.facts([
            ("task", HTML.escape(spec?.task ?? "–")), ("target", HTML.escape(spec?.target ?? "–")),
            ("owner", HTML.escape(spec?.owner ?? "–")), ("versions", "\(versions.count)"),
        ])
        body += "<h2>Metrics across versions</h2>" + metricPlot(name, versions, keys: Array(keys))
        body += "<h2>Versions</h2>" + versionsTable(page, name, versions, keys: Array(keys), parameters: parameters)
        body += try "<h2>Deployments</h2>" + deploymentTimeline(page, name)
        return page.document(name, body)
    }

    func metricPlot(_ name: String, _ versions: [VersionSummary], keys: [String]) -> String {
        let series = keys.prefix(4).map { key in
            SVG.Series(name: key, points: versions.compactMap { v in
                guard let n = Names.versionNumber(v.version), let y = v.metrics[key] else { return nil }
                return (Double(n), y, "\(name)@\(v.version) \(key) \(HTML.num(y))")
            })
        }
        var markers = [SVG.Marker]()
        for v in versions {
            for env in v.environments where !env.contains("(canary") {
                markers.append(SVG.Marker(x: Double(Names.versionNumber(v.version) ?? 0), label: "\(env) \(v.version)"))
            }
        }
        return SVG.lines(Array(series), markers: markers, xLabel: { "v\(Int($0))" }, id: "metrics-plot")
    }

    /// Newest first unless `sort=KEY&order=asc|desc` says otherwise; compare checkboxes when served.
    func versionsTable(_ page: Page, _ name: String, _ versions: [VersionSummary], keys: [String], parameters: [(String, String)]) -> String {
        let sortKey = parameters.last { $0.0 == "sort" }?.1 ?? "version"
        let ascending = parameters.last { $0.0 == "order" }?.1 == "asc"
        let sorted = versions.sorted { a, b in
            let order: Bool
            switch sortKey {
            case "created": order = a.created < b.created
            case "author": order = a.author < b.author
            default:
                if keys.contains(sortKey) {
                    order = (a.metrics[sortKey] ?? -.infinity) < (b.metrics[sortKey] ?? -.infinity)
                } else {
                    order = (Names.versionNumber(a.version) ?? 0) < (Names.versionNumber(b.version) ?? 0)
                }
            }
            return ascending ? order : !order
        }
        func header(_ key: String) -> String {
            if links.export { return HTML.escape(key) }
            let next = sortKey == key && !ascending ? "asc" : "desc"
            let q = "sort=\(key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")&amp;order=\(next)"
            return "<a href=\"?\(q)\">\(HTML.escape(key))</a>" + (sortKey == key ? (ascending ? " ▲" : " ▼") : "")
        }
        let rows = sorted.map { v -> [String] in
            var row = links.export ? [] : ["<input type=\"checkbox\" name=\"v\" value=\"\(HTML.escape(name))@\(HTML.escape(v.version))\">"]
            row += [page.versionLink(name, v.version), HTML.escape(v.created), HTML.escape(v.author), HTML.escape(v.source)]
            row += keys.map { v.metrics[$0].map(HTML.metric) ?? "–" }
            row.append(v.environments.map { HTML.badge($0, "env") }.joined())
            return row
        }
        let head = (links.export ? [] : ["compare"]) + ["version", "created", "author", "source"].map(header) + keys.map(header) + ["deployed"]
        let offset = links.export ? 4 : 5
        let table = HTML.table(head, rows, id: "versions", numeric: Set(keys.indices.map { $0 + offset }))
        if links.export {
            return table + "<p><a href=\"\(page.href("models/\(name)/compare/"))\">compare the latest versions and champions</a></p>"
        }
        return "<form method=\"get\" action=\"\(page.root)compare\">" + table
            + "<button type=\"submit\">compare selected</button> <a href=\"\(page.href("models/\(name)/compare/"))\">latest and champions</a></form>"
    }

    /// What served when in each environment (from `history`): a lane plot and the table of changes.
    func deploymentTimeline(_ page: Page, _ name: String) throws -> String {
        let events = try registry.history(name, deploymentsOnly: true).filter { [.deployed, .canary, .undeployed].contains($0.kind) }
        guard !events.isEmpty else { return "<p class=\"muted\">never deployed on main</p>" }
        let now = try registry.repository.commit(try registry.main().commit).committer.time
        var lanes = [(name: String, segments: [(from: Int64, to: Int64, label: String)])]()
        for env in Array(Set(events.compactMap(\.environment))).sorted() {
            let mine = events.filter { $0.environment == env && $0.kind != .canary }.reversed()
            var segments = [(from: Int64, to: Int64, label: String)]()
            for e in mine {
                if !segments.isEmpty { segments[segments.count - 1].to = e.time }
                if e.kind == .deployed, let v = e.version { segments.append((e.time, max(now, e.time), v)) }
            }
            lanes.append((env, segments))
        }
        let rows = events.map { e -> [String] in
            var what = HTML.escape(e.detail)
            if e.kind == .deployed, let v = e.version.flatMap(Names.versionNumber), let p = e.previous.flatMap(Names.versionNumber), v < p {
                what = HTML.badge("rollback", "warn") + what
            }
            return [
                HTML.date(e.time), e.environment.map { "<a href=\"\(page.environment($0))\">\(HTML.escape($0))</a>" } ?? "",
                what, HTML.escape(e.author), e.forced.map { HTML.badge("forced", "bad") + HTML.escape($0) } ?? "no",
                "<span class=\"mono\">\(e.commit.short)</span>",
            ]
        }
        return SVG.lanes(lanes, id: "deploy-timeline") + HTML.table(["date (UTC)", "environment", "change", "by", "forced", "commit"], rows, id: "deployments")
    }
}
