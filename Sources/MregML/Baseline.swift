import Foundation
import MregCore

/// Builds `baseline.json`: statistics of the training data that a drift monitor compares live data with.
///
/// Numeric columns: count (non-missing), missing, mean, sample std (n - 1), min, max, percentiles p1...p99,
/// 101 quantiles (0%, 1%, ... 100%, linear interpolation) and a 20-bin equal-width histogram; with no
/// values the statistics are null and the lists empty. Categorical columns: count, missing, distinct and
/// the count of each category. The target gets the same treatment under `target`.
public enum Baseline {
    /// The `format` tag of `baseline.json`.
    public static let format = "mreg-baseline"
    /// Percentiles reported by name.
    public static let percentiles = [1, 5, 10, 25, 50, 75, 90, 95, 99]
    /// Number of equal-width histogram bins for numeric columns.
    public static let histogramBins = 20

    static func make(features: [FeatureSpec], columns: [FeatureColumn], target: String, targetColumn: FeatureColumn, rows: Int,
                     sorted: [[Double]?] = []) -> JSONValue {
        var list = [JSONValue]()
        for (f, (spec, column)) in zip(features, columns).enumerated() {
            if spec.type == .numeric, case .numeric(let values) = column, f < sorted.count, let present = sorted[f] {
                list.append(numeric(name: spec.name, values: values, sorted: present))
            } else {
                list.append(describe(name: spec.name, type: spec.type, column: column))
            }
        }
        let targetType: FeatureType
        if case .numeric = targetColumn { targetType = .numeric } else { targetType = .categorical }
        return [
            "schemaVersion": 1,
            "format": .string(format),
            "rows": .number(Double(rows)),
            "features": .array(list),
            "target": describe(name: target, type: targetType, column: targetColumn),
        ]
    }

    static func describe(name: String, type: FeatureType, column: FeatureColumn) -> JSONValue {
        switch type {
        case .numeric:
            let values: [Double]
            switch column {
            case .numeric(let v): values = v
            case .categorical(let s): values = s.map { $0.flatMap(NumberParser.parse) ?? .nan }
            }
            return numeric(name: name, values: values)
        case .categorical:
            let labels: [String?]
            switch column {
            case .categorical(let s): labels = s
            case .numeric(let v): labels = v.map { $0.isFinite ? FeatureColumn.categoryText($0) : nil }
            }
            return categorical(name: name, labels: labels)
        }
    }

    static func numeric(name: String, values: [Double], sorted: [Double]? = nil) -> JSONValue {
        let present = sorted ?? Statistics.sortedFinite(values)
        var out: [String: JSONValue] = [
            "name": .string(name), "type": "numeric",
            "count": .number(Double(present.count)), "missing": .number(Double(values.count - present.count)),
        ]
        guard !present.isEmpty else {
            for key in ["mean", "std", "min", "max"] { out[key] = .null }
            out["percentiles"] = .object([:])
            out["quantiles"] = .array([])
            out["histogram"] = ["edges": [], "counts": []]
            return .object(out)
        }
        let stats = Statistics.meanAndStd(present)
        out["mean"] = .number(stats.mean)
        out["std"] = .number(stats.std)
        out["min"] = .number(present[0])
        out["max"] = .number(present[present.count - 1])
        var named = [String: JSONValue]()
        for p in percentiles { named["p\(p)"] = .number(Statistics.quantile(sorted: present, Double(p) / 100)) }
        out["percentiles"] = .object(named)
        out["quantiles"] = .array((0...100).map { .number(Statistics.quantile(sorted: present, Double($0) / 100)) })
        let histogram = Statistics.histogram(sorted: present, bins: histogramBins)
        out["histogram"] = [
            "edges": .array(histogram.edges.map(JSONValue.number)),
            "counts": .array(histogram.counts.map { .number(Double($0)) }),
        ]
        return .object(out)
    }

    static func categorical(name: String, labels: [String?]) -> JSONValue {
        var counts = [String: Int]()
        var missing = 0
        for label in labels {
            if let label { counts[label, default: 0] += 1 } else { missing += 1 }
        }
        return [
            "name": .string(name), "type": "categorical",
            "count": .number(Double(labels.count - missing)), "missing": .number(Double(missing)),
            "distinct": .number(Double(counts.count)),
            "categories": .object(counts.mapValues { .number(Double($0)) }),
        ]
    }
}

extension Baseline {
    /// `baseline.json` of a model trained elsewhere: the statistics of `features` and `target` over every
    /// row of `table`, in the same shape the built-in trainers write.
    ///
    /// The target is described as numbers for regression and as labels for classification.
    public static func make(features: [FeatureSpec], target: String, task: Task, table: Table) throws(MLError) -> JSONValue {
        var columns = [FeatureColumn]()
        for spec in features {
            guard let c = table.columnIndex(spec.name) else {
                throw .missingColumn(source: table.source, name: spec.name, available: table.columnNames)
            }
            columns.append(spec.type == .numeric ? .numeric(try table.numbers(column: c)) : .categorical(table.strings(column: c)))
        }
        guard let t = table.columnIndex(target) else {
            throw .missingColumn(source: table.source, name: target, available: table.columnNames)
        }
        let targetColumn: FeatureColumn = task == .regression ? .numeric(try table.numbers(column: t)) : .categorical(table.strings(column: t))
        return make(features: features, columns: columns, target: target, targetColumn: targetColumn, rows: table.rowCount)
    }
}
