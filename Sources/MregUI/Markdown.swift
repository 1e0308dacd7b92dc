import Foundation

/// A small Markdown renderer for model cards that never passes HTML through: raw HTML in the card is
/// shown as text, and only links within the page become links (a card cannot point a reviewer at a
/// script or send the page elsewhere). Headings, paragraphs, lists, block quotes, fenced code, rules, tables,
/// and inline code, emphasis and links.
public enum Markdown {
    public static func html(_ source: String) -> String {
        var out = ""
        var paragraph = [String]()
        var list: (ordered: Bool, items: [String])?
        var code: [String]?
        var table = [String]()
        func flush() {
            if !paragraph.isEmpty { out += "<p>" + paragraph.map(inline).joined(separator: "\n") + "</p>\n" }
            paragraph = []
            if let l = list {
                let tag = l.ordered ? "ol" : "ul"
                out += "<\(tag)>" + l.items.map { "<li>\(inline($0))</li>" }.joined() + "</\(tag)>\n"
            }
            list = nil
            if !table.isEmpty { out += renderTable(table) }
            table = []
        }
        for raw in source.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if code != nil {
                if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                    out += "<pre><code>" + code!.map(HTML.escape).joined(separator: "\n") + "</code></pre>\n"
                    code = nil
                } else {
                    code!.append(line)
                }
                continue
            }
            if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") { flush(); code = []; continue }
            if trimmed.isEmpty { flush(); continue }
            if let (level, text) = heading(trimmed) { flush(); out += "<h\(level + 2)>\(inline(text))</h\(level + 2)>\n"; continue }
            if trimmed == "---" || trimmed == "***" || trimmed == "___" { flush(); out += "<hr>\n"; continue }
            if trimmed.hasPrefix(">") { flush(); out += "<blockquote>\(inline(String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces)))</blockquote>\n"; continue }
            if trimmed.hasPrefix("|") { if table.isEmpty { flush() }; table.append(trimmed); continue }
            if let item = listItem(trimmed) {
                if list == nil || list!.ordered != item.ordered { flush(); list = (item.ordered, []) }
                list!.items.append(item.text)
                continue
            }
            if list != nil, line.hasPrefix("  ") { list!.items[list!.items.count - 1] += " " + trimmed; continue }
            if list != nil || !table.isEmpty { flush() }
            paragraph.append(trimmed)
        }
        if let code { out += "<pre><code>" + code.map(HTML.escape).joined(separator: "\n") + "</code></pre>\n" }
        flush()
        return out
    }

    static func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes), line.count == hashes || line.dropFirst(hashes).first == " " else { return nil }
        // Card headings sit below the page's own h1/h2: # -> h3, capped at h6.
        return (min(hashes, 4), String(line.dropFirst(hashes)).trimmingCharacters(in: .whitespaces))
    }

    static func listItem(_ line: String) -> (ordered: Bool, text: String)? {
        if line.hasPrefix("- ") || line.hasPrefix("* ") || line.hasPrefix("+ ") { return (false, String(line.dropFirst(2))) }
        let digits = line.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty, digits.count < 10 {
            let rest = line.dropFirst(digits.count)
            if rest.hasPrefix(". ") || rest.hasPrefix(") ") { return (true, String(rest.dropFirst(2))) }
        }
        return nil
    }

    static func renderTable(_ lines: [String]) -> String {
        func cells(_ line: String) -> [String] {
            var s = Substring(line)
            if s.hasPrefix("|") { s = s.dropFirst() }
            if s.hasSuffix("|") { s = s.dropLast() }
            return s.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let isRule = { (l: String) in cells(l).allSatisfy { !$0.isEmpty && $0.allSatisfy { "-:".contains($0) } } }
        var rows = lines.map(cells)
        var header: [String]?
        if lines.count >= 2, isRule(lines[1]) {
            header = rows[0]
            rows.removeFirst(2)
        }
        var out = "<table>"
        if let header { out += "<thead><tr>" + header.map { "<th>\(inline($0))</th>" }.joined() + "</tr></thead>" }
        out += "<tbody>" + rows.map { "<tr>" + $0.map { "<td>\(inline($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>\n"
        return out
    }

    /// Inline code, then (outside code) links, strong and emphasis, on escaped text.
    static func inline(_ text: String) -> String {
        var out = ""
        let parts = text.split(separator: "`", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            if i % 2 == 1 && i < parts.count - 1 {
                out += "<code>" + HTML.escape(String(part)) + "</code>"
            } else {
                if i % 2 == 1 { out += "`" }
                out += emphasis(links(String(part)))
            }
        }
        return out
    }

    /// `[text](target)`: a link for a relative target, else the text with the target beside it.
    static func links(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "["),
              let close = rest[open...].firstIndex(of: "]"),
              rest.index(after: close) < rest.endIndex, rest[rest.index(after: close)] == "(",
              let end = rest[close...].firstIndex(of: ")") {
            out += HTML.escape(String(rest[..<open]))
            let label = HTML.escape(String(rest[rest.index(after: open)..<close]))
            let target = String(rest[rest.index(close, offsetBy: 2)..<end])
            if isRelative(target) {
                out += "<a href=\"\(HTML.escape(target))\">\(label)</a>"
            } else {
                out += "\(label) (<span class=\"mono\">\(HTML.escape(target))</span>)"
            }
            rest = rest[rest.index(after: end)...]
        }
        return out + HTML.escape(String(rest))
    }

    /// Only a fragment within the page (`#usage`) becomes a link: a card's other targets point at
    /// files that are not pages of the site, or at other sites, so they are shown as text.
    static func isRelative(_ target: String) -> Bool {
        target.count > 1 && target.hasPrefix("#") && target.dropFirst().allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    /// `**strong**` and `*em*` / `_em_` on already escaped text (the markers are not entities).
    static func emphasis(_ text: String) -> String {
        var s = replacePairs(text, "**", "strong")
        s = replacePairs(s, "__", "strong")
        s = replacePairs(s, "*", "em")
        return s
    }

    static func replacePairs(_ text: String, _ marker: String, _ tag: String) -> String {
        let parts = text.components(separatedBy: marker)
        guard parts.count >= 3 else { return text }
        var out = parts[0]
        var i = 1
        while i < parts.count {
            if i + 1 < parts.count, !parts[i].isEmpty {
                out += "<\(tag)>\(parts[i])</\(tag)>" + parts[i + 1]
                i += 2
            } else {
                out += marker + parts[i]
                i += 1
            }
        }
        return out
    }
}
