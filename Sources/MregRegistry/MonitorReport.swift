import Foundation
import MregCore
import MregML

/// Everything `mreg monitor` found: the window, each feature's checks, the dataset verdict and live accuracy.
public struct MonitorReport: Sendable {
    public enum Status: String, Sendable { case ok, drift, insufficient = "insufficient-data" }

    public var model: String
    public var version: String
    public var reference: String
    public var window: CaptureWindow
    public var features: [FeatureDrift]
    public var thresholds: MonitoringConfig
    public var accuracy: LiveAccuracy?
    public var hook: HookResult?

    /// Features with a failed gated check.
    public var drifted: [FeatureDrift] { features.filter { $0.status == .drift } }
    /// Features that could be judged.
    public var judged: [FeatureDrift] { features.filter { $0.status != .insufficient } }
    public var driftedShare: Double { judged.isEmpty ? 0 : Double(drifted.count) / Double(judged.count) }
    /// The dataset drifts when at least `driftShare` of the judged features drift.
    public var datasetDrift: Bool { !judged.isEmpty && driftedShare >= thresholds.driftShare }

    /// ok, drift (a feature or the dataset drifted, or live accuracy is below its bound), or
    /// insufficient data (the window is smaller than `minRows`, and no labels fail).
    public var status: Status {
        if accuracy?.status == .drift { return .drift }
        if window.rows < thresholds.minRows { return .insufficient }
        if !drifted.isEmpty || datasetDrift { return .drift }
        if judged.isEmpty { return .insufficient }
        return .ok
    }

    /// True when the monitor exits 1.
    public var failed: Bool { status == .drift }
}

/// Output formats of `mreg monitor`.
public enum MonitorFormat: String, CaseIterable, Sendable {
    case text, json, markdown
}

extension MonitorReport {
    /// The report as text, canonical JSON or Markdown.
    public func render(_ format: MonitorFormat) -> String {
        switch format {
        case .text: return text
        case .json: return json.encodedString(pretty: true)
        case .markdown: return markdown
        }
    }

    /// `s` as it may be printed: every control character (C0, DEL, C1), format character (bidi
    /// overrides, zero-width marks) and line or paragraph separator written as `\u{1B}`, so a value a
    /// client sent (a category, a malformed line) cannot move the cursor, colour the terminal or
    /// start a report line of its own.
    static func shown(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                out.append(contentsOf: "\\u{\(String(u.value, radix: 16, uppercase: true))}".unicodeScalars)
            default:
                out.append(u)
            }
        }
        return String(out)
    }

    /// `shown`, with `|` escaped, for a cell of a Markdown table.
    static func cell(_ s: String) -> String {
        shown(s).replacingOccurrences(of: "|", with: "\\|")
    }

    /// A code fence longer than any run of backticks in `body`, so the body cannot close it.
    static func fence(_ body: String) -> String {
        var longest = 0, run = 0
        for c in body.utf8 {
            run = c == UInt8(ascii: "`") ? run + 1 : 0
            longest = max(longest, run)
        }
        return String(repeating: "`", count: max(3, longest + 1))
    }

    static func num(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "–" : (d > 0 ? "∞" : "−∞") }
        return String(format: "%.4f", d)
    }

    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "?" }
        var t = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// One line saying what was read and skipped.
    var windowSummary: String {
        let w = window
        var s = "\(w.rows) rows in \(w.records) records from \(w.files) file\(w.files == 1 ? "" : "s")"
        if w.firstMillis != nil { s += ", \(MonitorReport.time(w.firstMillis)) to \(MonitorReport.time(w.lastMillis))" }
        return s
    }

    var skippedSummary: String? {
        let w = window
        var parts = [String]()
        if w.malformedLines > 0 { parts.append("\(w.malformedLines) malformed line\(w.malformedLines == 1 ? "" : "s") (first: \(w.firstMalformed ?? "?"))") }
        if w.partialLines > 0 { parts.append("\(w.partialLines) unfinished last line\(w.partialLines == 1 ? "" : "s")") }
        if w.otherRecords > 0 { parts.append("\(w.otherRecords) records of other models or versions") }
        if w.beforeSince > 0 { parts.append("\(w.beforeSince) records before --since") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    var verdict: String {
        switch status {
        case .ok: return "no drift"
        case .insufficient: return "insufficient data (fewer than \(thresholds.minRows) rows): neither a pass nor a fail"
        case .drift:
            var reasons = [String]()
            if !drifted.isEmpty { reasons.append("\(drifted.count) of \(judged.count) features drifted (\(drifted.map(\.name).joined(separator: ", ")))") }
            if datasetDrift { reasons.append("the dataset drifts (share \(MonitorReport.num(driftedShare)) ≥ \(MonitorReport.num(thresholds.driftShare)))") }
            if let a = accuracy, a.status == .drift {
                reasons.append("live \(a.metric) \(MonitorReport.num(a.value ?? .nan)) \(a.metric == "rmse" ? "above" : "below") \(MonitorReport.num(a.bound ?? .nan))")
            }
            return "DRIFT: " + reasons.joined(separator: "; ")
        }
    }

    var accuracyLine: String? {
        guard let a = accuracy else { return nil }
        let bound = a.bound.map { " (\(a.metric == "rmse" ? "ceiling" : "floor") \(MonitorReport.num($0)))" } ?? ""
        let value = a.value.map(MonitorReport.num) ?? "–"
        let verdict = a.status == .insufficient ? "insufficient data" : a.passed ? "ok" : "FAIL"
        return "live \(a.metric) \(value) on \(a.labeledRows) labeled rows\(bound): \(verdict)"
            + (a.unmatchedLabels > 0 ? "; \(a.unmatchedLabels) labels matched no captured row" : "")
    }

    // MARK: - Text

    var text: String {
        // Everything that came from captures, labels or the command line goes through `shown`.
        let show = MonitorReport.shown
        var out = show("\(model)@\(version)" + (reference != "\(model)@\(version)" ? " (\(reference))" : "")) + ": \(windowSummary)\n"
        if let skipped = skippedSummary { out += "skipped: \(show(skipped))\n" }
        for f in features {
            let tag = f.status == .drift ? "DRIFT" : f.status == .ok ? "ok" : "insufficient data"
            out += "\(show(f.name)) (\(show(f.type)), \(f.rows) rows, \(f.missing) missing): \(tag)\n"
            for c in f.checks {
                let mark = !c.gated ? "    " : c.passed ? "pass" : "FAIL"
                let bound = c.threshold.map { " / \(MonitorReport.num($0))" } ?? ""
                out += "  \(mark)  \(show(c.name).padding(toLength: 14, withPad: " ", startingAt: 0)) \(MonitorReport.num(c.value))\(bound)  \(show(c.detail))\n"
            }
            if f.status == .drift, !f.bins.isEmpty { out += MonitorReport.histogram(f.bins, indent: "    ") }
        }
        if let a = accuracyLine { out += show(a) + "\n" }
        if let h = hook { out += "ran \(show(h.command)): exit status \(h.exitStatus)\n" }
        out += show(verdict) + "\n"
        return out
    }

    /// Baseline (`#`) against live (`*`) proportions, one line per bin that either has.
    static func histogram(_ bins: [(label: String, baseline: Double, live: Double)], indent: String, width: Int = 24) -> String {
        let top = bins.map { max($0.baseline, $0.live) }.max() ?? 0
        guard top > 0 else { return "" }
        let labels = bins.map { shown($0.label) }
        let labelWidth = min(max(labels.map(\.count).max() ?? 0, 8), 24)
        func bar(_ share: Double, _ c: Character) -> String {
            let n = Int((share / top * Double(width)).rounded())
            return String(repeating: c, count: n).padding(toLength: width, withPad: " ", startingAt: 0)
        }
        var out = indent + "".padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            + "  " + "baseline".padding(toLength: width + 7, withPad: " ", startingAt: 0) + "  live\n"
        for (b, shownLabel) in zip(bins, labels) where b.baseline > 0 || b.live > 0 {
            let label = String(shownLabel.prefix(labelWidth)).padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            out += indent + label + "  " + bar(b.baseline, "#") + String(format: " %5.1f%%", b.baseline * 100)
                + "  " + bar(b.live, "*") + String(format: " %5.1f%%", b.live * 100) + "\n"
        }
        return out
    }

    // MARK: - Markdown

    var markdown: String {
        let icon = status == .drift ? "❌" : status == .ok ? "✅" : "⚠️"
        // Values from captures, labels or the command line go through `shown` (`cell` in tables).
        let show = MonitorReport.shown, cell = MonitorReport.cell
        var out = "## \(icon) mreg monitor \(show(reference))\n\n"
        out += "`\(show(model))@\(show(version))`: \(windowSummary).\n"
        if let skipped = skippedSummary { out += "Skipped: \(show(skipped)).\n" }
        out += "\n**\(show(verdict))**\n\n"
        if let a = accuracyLine { out += "- \(show(a))\n" }
        if let h = hook { out += "- ran `\(show(h.command))`: exit status \(h.exitStatus)\n" }
        if accuracy != nil || hook != nil { out += "\n" }
        out += "| feature | type | rows | missing | verdict |\n|---|---|---:|---:|---|\n"
        for f in features {
            out += "| \(cell(f.name)) | \(cell(f.type)) | \(f.rows) | \(f.missing) | \(MonitorReport.mark(f.status)) |\n"
        }
        out += "\n"
        for f in features {
            out += "### \(MonitorReport.mark(f.status)) \(show(f.name))\n\n"
            if f.checks.isEmpty {
                out += "Fewer than \(thresholds.minRows) values: not judged.\n\n"
                continue
            }
            out += "| statistic | value | threshold | verdict | detail |\n|---|---:|---:|---|---|\n"
            for c in f.checks {
                let verdict = !c.gated ? "reported" : c.passed ? "✅ pass" : "❌ fail"
                out += "| \(cell(c.name)) | \(MonitorReport.num(c.value)) | \(c.threshold.map(MonitorReport.num) ?? "–") | \(verdict) | \(cell(c.detail)) |\n"
            }
            out += "\n"
            if f.status == .drift, !f.bins.isEmpty {
                let chart = MonitorReport.histogram(f.bins, indent: "")
                let fence = MonitorReport.fence(chart)
                out += fence + "\n" + chart + fence + "\n\n"
            }
        }
        return out
    }

    static func mark(_ s: FeatureDrift.Status) -> String {
        switch s {
        case .ok: return "✅ ok"
        case .drift: return "❌ drift"
        case .insufficient: return "⚠️ insufficient data"
        }
    }

    // MARK: - JSON

    public var json: JSONValue {
        let w = window
        var windowJSON: [String: JSONValue] = [
            "files": .number(Double(w.files)), "records": .number(Double(w.records)), "rows": .number(Double(w.rows)),
            "malformedLines": .number(Double(w.malformedLines)), "partialLines": .number(Double(w.partialLines)),
            "otherRecords": .number(Double(w.otherRecords)), "beforeSince": .number(Double(w.beforeSince)),
        ]
        if let m = w.firstMalformed { windowJSON["firstMalformed"] = .string(m) }
        if w.firstMillis != nil {
            windowJSON["first"] = .string(MonitorReport.time(w.firstMillis))
            windowJSON["last"] = .string(MonitorReport.time(w.lastMillis))
        }
        var o: [String: JSONValue] = [
            "schemaVersion": 1, "model": .string(model), "version": .string(version), "reference": .string(reference),
            "status": .string(status.rawValue), "failed": .bool(failed), "window": .object(windowJSON),
            "features": .array(features.map(MonitorReport.featureJSON)),
            "dataset": [
                "drifted": .number(Double(drifted.count)), "judged": .number(Double(judged.count)),
                "share": .number(driftedShare), "driftShare": .number(thresholds.driftShare), "drift": .bool(datasetDrift),
            ],
            "thresholds": [
                "kSigma": .number(thresholds.kSigma), "ksAlpha": .number(thresholds.ksAlpha),
                "chiSquareAlpha": .number(thresholds.chiSquareAlpha), "jsMax": .number(thresholds.jsMax),
                "missingRateIncrease": .number(thresholds.missingRateIncrease), "driftShare": .number(thresholds.driftShare),
                "minRows": .number(Double(thresholds.minRows)),
                "accuracyFloor": thresholds.accuracyFloor.map(JSONValue.number) ?? .null,
                "rmseCeiling": thresholds.rmseCeiling.map(JSONValue.number) ?? .null,
            ],
        ]
        if let a = accuracy {
            o["accuracy"] = [
                "metric": .string(a.metric), "value": a.value.map(JSONValue.number) ?? .null, "bound": a.bound.map(JSONValue.number) ?? .null,
                "labeledRows": .number(Double(a.labeledRows)), "unmatchedLabels": .number(Double(a.unmatchedLabels)),
                "status": .string(a.status.rawValue),
            ]
        }
        if let h = hook { o["hook"] = ["command": .string(h.command), "exitStatus": .number(Double(h.exitStatus))] }
        return .object(o)
    }

    static func featureJSON(_ f: FeatureDrift) -> JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(f.name), "type": .string(f.type), "rows": .number(Double(f.rows)), "missing": .number(Double(f.missing)),
            "status": .string(f.status.rawValue),
            "checks": .array(f.checks.map { c in
                [
                    "name": .string(c.name), "value": .number(c.value), "threshold": c.threshold.map(JSONValue.number) ?? .null,
                    "gated": .bool(c.gated), "passed": .bool(c.passed), "detail": .string(c.detail),
                ]
            }),
        ]
        if !f.bins.isEmpty {
            o["histogram"] = [
                "labels": .array(f.bins.map { .string($0.label) }),
                "baseline": .array(f.bins.map { .number($0.baseline) }),
                "live": .array(f.bins.map { .number($0.live) }),
            ]
        }
        return .object(o)
    }
}
