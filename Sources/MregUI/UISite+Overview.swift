import Foundation
import MregCore
import MregRegistry

extension UISite {
    /// Every model: task, description, latest version, what each environment serves (since when, by
    /// whom), gate status and drift status, from `list` and `status`.
    func overview(_ page: Page) throws -> String {
        let models = try registry.listModels()
        let status = try registry.status()
        let snap = try registry.head()
        let config = try snap.config()
        var served = [String: [String: ModelStatus]]()
        for env in status { for m in env.models { served[env.environment, default: [:]][m.model] = m } }
        let envs = config.environments.map(\.name)
        var rows = [[String]]()
        for m in models {
            let spec = try snap.modelSpecIfPresent(m.name)
            var row = [
                "<a href=\"\(page.model(m.name))\">\(HTML.escape(m.name))</a>",
                HTML.escape(m.task ?? spec?.task ?? "–"),
                "<span class=\"description\">\(HTML.escape(spec?.description ?? ""))</span>",
                "\(m.versionCount)",
                m.latest.map { page.versionLink(m.name, $0) } ?? "–",
            ]
            var gates = [Bool]()
            for env in envs {
                guard let s = served[env]?[m.name] else { row.append("<span class=\"muted\">–</span>"); continue }
                gates.append(s.passed)
                row.append(deploymentCell(page, m.name, s))
            }
            row.append(gates.isEmpty ? "<span class=\"muted\">not deployed</span>"
                : gates.allSatisfy { $0 } ? HTML.badge("gates pass", "ok") : HTML.badge("gate failing", "bad"))
            row.append(driftBadge(page, m.name))
            rows.append(row)
        }
        let header = ["model", "task", "description", "versions", "latest"] + envs.map { "<a href=\"\(page.environment($0))\">\(HTML.escape($0))</a>" } + ["gates", "drift"]
        var body = "<h1>\(HTML.escape(config.name))</h1><p class=\"muted\">\(models.count) models · main at <span class=\"mono\">\(HTML.escape(try registry.main().commit.short))</span> · environments "
        body += envs.map { "<a href=\"\(page.environment($0))\">\(HTML.escape($0))</a>" }.joined(separator: ", ") + "</p>"
        body += HTML.table(header, rows, id: "models", numeric: [3])
        return page.document(config.name, body)
    }

    /// `v3 (+v4 10%)`, since when and by whom.
    func deploymentCell(_ page: Page, _ model: String, _ s: ModelStatus) -> String {
        var cell = page.versionLink(model, s.deployment.version)
        if let c = s.deployment.canary { cell += " <span class=\"muted\">+ canary</span> " + page.versionLink(model, c.version) + " \(c.weight)%" }
        if let since = s.since {
            cell += "<br><span class=\"muted\">since \(HTML.date(since.committer.time)) by \(HTML.escape(since.author.name))</span>"
        }
        if let why = s.notServed { cell += "<br>" + HTML.badge("not servable", "warn") + "<span class=\"muted\">\(HTML.escape(why))</span>" }
        return cell
    }

    func driftBadge(_ page: Page, _ model: String) -> String {
        guard let report = driftReports.last(where: { $0.model == model }) else { return "<span class=\"muted\">no report</span>" }
        let status = report.json["status"]?.stringValue ?? "unknown"
        let kind = status == "ok" ? "ok" : status == "drift" ? "bad" : "warn"
        return "<a href=\"\(page.href("drift/\(model)/"))\">\(HTML.badge(status, kind))</a>"
    }
}
