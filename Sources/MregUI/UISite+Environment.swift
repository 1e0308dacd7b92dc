import Foundation
import MregCore
import MregReconciler
import MregRegistry

extension UISite {
    /// What the environment serves now (with gates), its manifest history on main, and each host's
    /// status when `--hosts` were given.
    func environment(_ page: Page, _ name: String) throws -> String {
        let status = try registry.status(environment: name)
        let history = try registry.manifestHistory(environment: name, limit: 200)
        let config = try registry.main().config()
        var body = "<h1>Environment \(HTML.escape(name))</h1>"
        if let env = config.environment(name) {
            body += HTML.facts([
                ("promoted from", HTML.escape(env.promoteFrom ?? "–")), ("forced promotions", env.forceAllowed ? "allowed with a reason" : "refused"),
                ("manifest", "<span class=\"mono\">deploy/\(HTML.escape(name)).yaml</span>"),
            ])
        }
        let rows = (status.first?.models ?? []).map { m in
            [
                "<a href=\"\(page.model(m.model))\">\(HTML.escape(m.model))</a>", deploymentCell(page, m.model, m),
                HTML.escape(m.deployment.hosts?.joined(separator: ", ") ?? "all"),
                m.gates.map { ($0.passed ? HTML.badge("pass", "ok") : HTML.badge("fail", "bad")) + HTML.escape($0.rule) }.joined(separator: "<br>"),
            ]
        }
        body += "<h2>Serving now</h2>" + (rows.isEmpty ? "<p class=\"muted\">nothing</p>" : HTML.table(["model", "version", "hosts", "gates"], rows, id: "serving"))
        body += "<h2>Hosts</h2>" + hostsSection()
        let now = try registry.repository.commit(try registry.main().commit).committer.time
        body += "<h2>Manifest history</h2>" + manifestTimeline(page, history, now: now)
        return page.document("environment \(name)", body)
    }

    /// Each state of the manifest, newest first, with what changed against the one before.
    func manifestTimeline(_ page: Page, _ history: [ManifestState], now: Int64) -> String {
        guard !history.isEmpty else { return "<p class=\"muted\">no manifest on main yet</p>" }
        var rows = [[String]]()
        for (i, state) in history.enumerated() {
            let before = i + 1 < history.count ? history[i + 1].models : [:]
            var changes = [String]()
            for model in Set(before.keys).union(state.models.keys).sorted() {
                let old = before[model], new = state.models[model]
                guard old != new else { continue }
                func text(_ d: Deployment?) -> String { d.map { $0.version + ($0.canary.map { " + canary \($0.version) \($0.weight)%" } ?? "") } ?? "none" }
                changes.append("<a href=\"\(page.model(model))\">\(HTML.escape(model))</a> \(HTML.escape(text(old))) → \(HTML.escape(text(new)))")
            }
            let forced = state.commit.message.contains("Mreg-Forced:") ? HTML.badge("forced", "bad") : ""
            rows.append([
                HTML.date(state.commit.committer.time), "<span class=\"mono\">\(state.commit.id.short)</span>", HTML.escape(state.commit.author.name),
                forced + HTML.escape(state.commit.summary), changes.isEmpty ? "<span class=\"muted\">no model changed</span>" : changes.joined(separator: "<br>"),
            ])
        }
        return manifestLanes(history, now: now) + HTML.table(["date (UTC)", "commit", "author", "summary", "changes"], rows, id: "manifest-history")
    }

    /// One lane per model: which version the manifest named from when to when (up to main's tip).
    func manifestLanes(_ history: [ManifestState], now: Int64) -> String {
        let oldestFirst = Array(history.reversed())
        let end = max(oldestFirst.last?.commit.committer.time ?? 0, now)
        let models = Array(Set(history.flatMap(\.models.keys))).sorted()
        let lanes = models.map { model -> (name: String, segments: [(from: Int64, to: Int64, label: String)]) in
            var segments = [(from: Int64, to: Int64, label: String)]()
            for (i, state) in oldestFirst.enumerated() {
                let to = i + 1 < oldestFirst.count ? oldestFirst[i + 1].commit.committer.time : end
                guard let d = state.models[model] else { continue }
                let label = d.version + (d.canary.map { "+\($0.version)" } ?? "")
                if let last = segments.last, last.label == label, last.to == state.commit.committer.time {
                    segments[segments.count - 1].to = to
                } else {
                    segments.append((state.commit.committer.time, to, label))
                }
            }
            return (model, segments)
        }
        return SVG.lanes(lanes, id: "manifest-timeline")
    }

    func hostsSection() -> String {
        guard let hosts else { return "<p class=\"muted\">no hosts given (<span class=\"mono\">mreg ui --hosts URL…</span>)</p>" }
        let rows = hosts.reports.map { h in
            let state = h.state
            let kind = state == "converged" ? "ok" : state == "unknown" || state == "drift" ? "warn" : "bad"
            return [
                HTML.escape(h.url), HTML.badge(state, kind),
                "<span class=\"mono\">\(HTML.escape(String((h.status?["appliedCommit"]?.stringValue ?? "–").prefix(12))))</span>",
                HTML.escape(h.error ?? h.notServed.map { "\($0.model): \($0.reason)" }.joined(separator: "; ")),
            ]
        }
        return "<p class=\"muted\">as of \(HTML.date(Int64(hosts.fetched.timeIntervalSince1970))) UTC</p>"
            + HTML.table(["host", "state", "applied commit", "detail"], rows, id: "hosts")
    }
}
