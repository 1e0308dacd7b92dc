import Foundation

/// Plots drawn by mreg as inline SVG: every label goes through `HTML.escape`, every point is an
/// element with a `<title>` (a tooltip without script) so a page's plots can be checked in the DOM.
enum SVG {
    static let palette = ["#2456c7", "#d1495b", "#2a9d8f", "#e9a03b", "#7b4ab2", "#5b6475", "#118ab2", "#8d6a3b"]

    struct Series {
        var name: String
        var points: [(x: Double, y: Double, label: String)]
    }

    /// A vertical marker at `x` (a champion, a threshold).
    struct Marker {
        var x: Double
        var label: String
    }

    static func fmt(_ d: Double) -> String { String(format: "%.1f", d) }

    /// Lines with points; `xLabel` names an x value on the axis; markers are dashed verticals.
    static func lines(_ series: [Series], markers: [Marker] = [], xLabel: (Double) -> String, id: String,
                      width: Double = 760, height: Double = 260) -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "<p class=\"muted\">nothing to plot</p>" }
        let left = 52.0, right = 16.0, top = 14.0, bottom = 34.0
        var xs = (all.map(\.x).min()!, all.map(\.x).max()!)
        var ys = (all.map(\.y).min()!, all.map(\.y).max()!)
        if xs.0 == xs.1 { xs = (xs.0 - 1, xs.1 + 1) }
        if ys.0 == ys.1 { ys = (ys.0 - 0.5, ys.1 + 0.5) }
        let pad = (ys.1 - ys.0) * 0.08
        ys = (ys.0 - pad, ys.1 + pad)
        func px(_ x: Double) -> Double { left + (x - xs.0) / (xs.1 - xs.0) * (width - left - right) }
        func py(_ y: Double) -> Double { top + (1 - (y - ys.0) / (ys.1 - ys.0)) * (height - top - bottom) }
        var out = "<svg class=\"plot\" id=\"\(id)\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        out += axes(left: left, top: top, width: width, height: height, bottom: bottom, right: right)
        for i in 0...4 {
            let y = ys.0 + (ys.1 - ys.0) * Double(i) / 4
            out += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(y) + 4))\" text-anchor=\"end\">\(HTML.escape(HTML.num((y * 1000).rounded() / 1000)))</text>"
        }
        let ticks = Array(Set(all.map(\.x))).sorted()
        let step = max(1, ticks.count / 10)
        for (i, x) in ticks.enumerated() where i % step == 0 {
            out += "<text x=\"\(fmt(px(x)))\" y=\"\(fmt(height - bottom + 16))\" text-anchor=\"middle\">\(HTML.escape(xLabel(x)))</text>"
        }
        for m in markers {
            out += "<g class=\"marker\"><line x1=\"\(fmt(px(m.x)))\" x2=\"\(fmt(px(m.x)))\" y1=\"\(fmt(top))\" y2=\"\(fmt(height - bottom))\" stroke=\"#1d2330\" stroke-dasharray=\"4 3\"/>"
            out += "<text x=\"\(fmt(px(m.x) + 3))\" y=\"\(fmt(top + 10))\">\(HTML.escape(m.label))</text></g>"
        }
        let dense = all.count > 400
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let path = s.points.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
            out += "<g class=\"series\" data-series=\"\(HTML.escape(s.name))\"><polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(path)\"/>"
            for p in s.points {
                out += "<circle class=\"pt\" cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.y)))\" r=\"\(dense ? 1.5 : 3)\" fill=\"\(color)\"><title>\(HTML.escape(p.label))</title></circle>"
            }
            out += "</g>"
        }
        return out + "</svg>" + legend(series.map(\.name))
    }

    static func axes(left: Double, top: Double, width: Double, height: Double, bottom: Double, right: Double) -> String {
        "<line x1=\"\(fmt(left))\" y1=\"\(fmt(height - bottom))\" x2=\"\(fmt(width - right))\" y2=\"\(fmt(height - bottom))\" stroke=\"#9aa3b2\"/>"
            + "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top))\" x2=\"\(fmt(left))\" y2=\"\(fmt(height - bottom))\" stroke=\"#9aa3b2\"/>"
    }

    static func legend(_ names: [String]) -> String {
        "<div class=\"legend\">" + names.enumerated().map { i, n in
            "<span><i style=\"background:\(palette[i % palette.count])\"></i>\(HTML.escape(n))</span>"
        }.joined() + "</div>"
    }

    /// Grouped bars: one group per label, one bar per series (nil: no bar).
    static func bars(labels: [String], series: [(name: String, values: [Double?])], id: String,
                     width: Double = 760, height: Double = 240) -> String {
        guard !labels.isEmpty, !series.isEmpty else { return "<p class=\"muted\">nothing to plot</p>" }
        let left = 52.0, right = 10.0, top = 12.0, bottom = 44.0
        let maxValue = max(series.flatMap { $0.values.compactMap { $0 } }.map { abs($0) }.max() ?? 1, 1e-12)
        let groupWidth = (width - left - right) / Double(labels.count)
        let barWidth = max(1, groupWidth * 0.8 / Double(series.count))
        var out = "<svg class=\"plot\" id=\"\(id)\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        out += axes(left: left, top: top, width: width, height: height, bottom: bottom, right: right)
        let plotHeight = height - top - bottom
        for i in 0...4 {
            let v = maxValue * Double(i) / 4
            out += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(top + plotHeight * (1 - Double(i) / 4) + 4))\" text-anchor=\"end\">\(HTML.escape(HTML.num((v * 1000).rounded() / 1000)))</text>"
        }
        for (g, label) in labels.enumerated() {
            let gx = left + Double(g) * groupWidth + groupWidth * 0.1
            for (s, serie) in series.enumerated() {
                guard g < serie.values.count, let v = serie.values[g] else { continue }
                let h = abs(v) / maxValue * plotHeight
                out += "<rect class=\"bar\" x=\"\(fmt(gx + Double(s) * barWidth))\" y=\"\(fmt(top + plotHeight - h))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(h))\" fill=\"\(palette[s % palette.count])\">"
                out += "<title>\(HTML.escape(serie.name + " · " + label + ": " + HTML.num(v)))</title></rect>"
            }
            if labels.count <= 24 || g % max(1, labels.count / 24) == 0 {
                let shown = label.count > 14 ? String(label.prefix(13)) + "…" : label
                out += "<text x=\"\(fmt(gx + groupWidth * 0.4))\" y=\"\(fmt(height - bottom + 14))\" text-anchor=\"middle\">\(HTML.escape(shown))</text>"
            }
        }
        return out + "</svg>" + legend(series.map(\.name))
    }

    /// A confusion matrix: rows are the true class, columns the predicted one; darker is more.
    static func heatmap(classes: [String], matrix: [[Int]], id: String) -> String {
        let n = classes.count
        guard n > 0, matrix.count == n, matrix.allSatisfy({ $0.count == n }) else { return "<p class=\"muted\">confusion matrix malformed</p>" }
        let cell = n > 12 ? 24.0 : 48.0, left = 110.0, top = 90.0
        let size = left + cell * Double(n) + 10, tall = top + cell * Double(n) + 10
        let maxCount = max(1, matrix.flatMap { $0 }.max() ?? 1)
        var out = "<svg class=\"plot\" id=\"\(id)\" viewBox=\"0 0 \(fmt(size)) \(fmt(tall))\" width=\"\(fmt(size))\" height=\"\(fmt(tall))\" role=\"img\">"
        out += "<text x=\"\(fmt(left))\" y=\"14\">predicted →</text><text x=\"4\" y=\"\(fmt(top - 6))\">actual ↓</text>"
        for (i, c) in classes.enumerated() {
            let shown = HTML.escape(c.count > 14 ? String(c.prefix(13)) + "…" : c)
            out += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(top + cell * (Double(i) + 0.5) + 4))\" text-anchor=\"end\">\(shown)</text>"
            out += "<text transform=\"translate(\(fmt(left + cell * (Double(i) + 0.5) + 4)),\(fmt(top - 6))) rotate(-45)\">\(shown)</text>"
        }
        for (r, row) in matrix.enumerated() {
            for (c, count) in row.enumerated() {
                let share = Double(count) / Double(maxCount)
                let light = Int(97 - share * 60)
                out += "<rect class=\"cell\" x=\"\(fmt(left + cell * Double(c)))\" y=\"\(fmt(top + cell * Double(r)))\" width=\"\(fmt(cell - 1))\" height=\"\(fmt(cell - 1))\" fill=\"hsl(220, 70%, \(light)%)\">"
                out += "<title>\(HTML.escape("\(classes[r]) → \(classes[c]): \(count)"))</title></rect>"
                out += "<text x=\"\(fmt(left + cell * (Double(c) + 0.5)))\" y=\"\(fmt(top + cell * (Double(r) + 0.5) + 4))\" text-anchor=\"middle\" style=\"fill:\(share > 0.5 ? "#fff" : "#1d2330")\">\(count)</text>"
            }
        }
        return out + "</svg>"
    }

    /// A timeline: one lane per name, segments `(from, to, label)` in seconds since 1970.
    static func lanes(_ lanes: [(name: String, segments: [(from: Int64, to: Int64, label: String)])], id: String, width: Double = 760) -> String {
        let all = lanes.flatMap(\.segments)
        guard let start = all.map(\.from).min(), var end = all.map(\.to).max() else { return "<p class=\"muted\">nothing deployed yet</p>" }
        if end <= start { end = start + 60 }
        let left = 100.0, right = 10.0, lane = 26.0
        let height = lane * Double(lanes.count) + 30
        func px(_ t: Int64) -> Double { left + Double(t - start) / Double(end - start) * (width - left - right) }
        var out = "<svg class=\"plot\" id=\"\(id)\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" role=\"img\">"
        var colors = [String: String]()
        for (i, l) in lanes.enumerated() {
            let y = Double(i) * lane + 4
            out += "<text x=\"4\" y=\"\(fmt(y + 16))\">\(HTML.escape(l.name))</text>"
            for s in l.segments {
                let color = colors[s.label] ?? palette[colors.count % palette.count]
                colors[s.label] = color
                let w = max(2, px(s.to) - px(s.from))
                out += "<rect class=\"segment\" x=\"\(fmt(px(s.from)))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(lane - 8))\" fill=\"\(color)\">"
                out += "<title>\(HTML.escape("\(l.name): \(s.label) from \(HTML.date(s.from))"))</title></rect>"
                if w > 30 { out += "<text x=\"\(fmt(px(s.from) + 3))\" y=\"\(fmt(y + 13))\" style=\"fill:#fff\">\(HTML.escape(s.label))</text>" }
            }
        }
        out += "<text x=\"\(fmt(left))\" y=\"\(fmt(height - 6))\">\(HTML.escape(HTML.date(start)))</text>"
        out += "<text x=\"\(fmt(width - right))\" y=\"\(fmt(height - 6))\" text-anchor=\"end\">\(HTML.escape(HTML.date(end)))</text>"
        return out + "</svg>"
    }
}
