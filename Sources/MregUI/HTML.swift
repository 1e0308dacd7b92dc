import Foundation
import MregCore

/// Escaping and the few building blocks every page uses. Everything that comes from the registry or
/// from capture data goes through `HTML.escape` (text and attribute values alike).
public enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and newline have no business in a page.
                if c.value < 0x20 && c != "\n" && c != "\t" { out += "\u{FFFD}" } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    /// A table: the header cells and rows are HTML already (escape what goes in).
    static func table(_ header: [String], _ rows: [[String]], id: String? = nil, numeric: Set<Int> = []) -> String {
        var out = "<table" + (id.map { " id=\"\($0)\"" } ?? "") + "><thead><tr>"
        for (i, h) in header.enumerated() { out += numeric.contains(i) ? "<th class=\"num\">\(h)</th>" : "<th>\(h)</th>" }
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for (i, cell) in row.enumerated() { out += numeric.contains(i) ? "<td class=\"num\">\(cell)</td>" : "<td>\(cell)</td>" }
            out += "</tr>"
        }
        return out + "</tbody></table>"
    }

    /// A definition list of label -> HTML value pairs.
    static func facts(_ pairs: [(String, String)]) -> String {
        "<dl class=\"facts\">" + pairs.map { "<dt>\(escape($0.0))</dt><dd>\($0.1)</dd>" }.joined() + "</dl>"
    }

    static func badge(_ text: String, _ kind: String) -> String {
        "<span class=\"badge \(kind)\">\(escape(text))</span>"
    }

    /// Fixed formatting for metrics: four decimals, integers without.
    static func num(_ d: Double) -> String {
        if !d.isFinite { return d.isNaN ? "NaN" : (d > 0 ? "∞" : "-∞") }
        if d == d.rounded() && abs(d) < 1e12 { return String(Int64(d)) }
        return String(format: "%.4f", d)
    }

    /// A metric value: always four decimals (1 reads as 1.0000 beside 0.9710).
    static func metric(_ d: Double) -> String { d.isFinite ? String(format: "%.4f", d) : num(d) }

    /// `+0.0123` / `-0.0040` / `0`.
    static func delta(_ d: Double) -> String {
        if d == 0 { return "0" }
        return (d > 0 ? "+" : "") + num(d)
    }

    /// `2026-11-22 18:00` in UTC.
    static func date(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min)
    }

    static func scalar(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .number(let d): return num(d)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        default: return v.encodedString()
        }
    }

    /// A whole page: title, navigation relative to the site root, body.
    static func page(title: String, root: String, links: SiteLinks, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) · mreg</title><link rel="stylesheet" href="\(root)style.css"></head>
        <body><header><nav><a class="brand" href="\(links.href(root, ""))">mreg</a> <a href="\(links.href(root, ""))">models</a> <a href="\(links.href(root, "drift/"))">drift</a></nav></header>
        <main>
        \(body)
        </main><footer>read-only view of the registry · rendered by mreg</footer></body></html>

        """
    }

    /// The one stylesheet, served at `/style.css`.
    static let stylesheet = """
        :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #ffffff; --panel: #f5f7fa; --accent: #2456c7; --ok: #1b7f3b; --bad: #b3261e; --warn: #9a6700; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header { background: #1d2330; padding: 8px 20px; }
        header a { color: #e8ecf3; text-decoration: none; margin-right: 16px; }
        header a.brand { font-weight: 700; }
        main { padding: 12px 20px 32px; max-width: 1200px; }
        footer { color: var(--muted); padding: 8px 20px; font-size: 12px; border-top: 1px solid var(--line); }
        h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 22px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 3px; }
        h3 { font-size: 15px; margin: 14px 0 6px; }
        a { color: var(--accent); }
        table { border-collapse: collapse; margin: 6px 0 10px; }
        th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
        th { font-weight: 600; color: var(--muted); white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
        .muted { color: var(--muted); }
        .badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; margin-right: 4px; background: var(--panel); border: 1px solid var(--line); }
        .badge.ok { color: var(--ok); border-color: var(--ok); } .badge.bad { color: var(--bad); border-color: var(--bad); }
        .badge.warn { color: var(--warn); border-color: var(--warn); } .badge.env { color: var(--accent); border-color: var(--accent); }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
        dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
        .card { background: var(--panel); border: 1px solid var(--line); padding: 4px 14px; border-radius: 4px; }
        .card pre { background: #fff; padding: 6px; overflow-x: auto; }
        svg.plot { background: #fff; border: 1px solid var(--line); margin: 4px 0; max-width: 100%; height: auto; }
        svg.plot text { font: 11px system-ui, sans-serif; fill: var(--muted); }
        .grid { display: flex; flex-wrap: wrap; gap: 18px; }
        .legend span { margin-right: 12px; font-size: 12px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
        """
}

/// How pages link to each other: the same relative paths served or exported; an export names the
/// `index.html` inside each folder (a file:// browser does not look for one).
struct SiteLinks {
    var export: Bool

    /// `root` (`../../`) + a site path (`models/iris/`).
    func href(_ root: String, _ path: String) -> String {
        let full = root + path
        if export && (path.isEmpty || path.hasSuffix("/")) { return full + "index.html" }
        return full.isEmpty ? "./" : full
    }
}
