import Foundation

/// Maps each input column to at most `maxBins` ordered bins, as scikit-learn's HistGradientBoosting does.
///
/// With few distinct values the thresholds are the midpoints between them; otherwise they are the
/// `maxBins - 1` inner percentiles (midpoint method) of the column. A value `x` falls in the first bin `b`
/// with `x <= thresholds[b]`, or in the last bin when it exceeds them all, so a tree that splits
/// "bin <= b" predicts with "x <= thresholds[b]" on raw values.
struct FeatureBinner: Sendable {
    /// Strictly increasing thresholds per column; a column has `thresholds.count + 1` bins.
    var thresholds: [[Double]]

    /// Rows used to find thresholds; larger inputs are subsampled with the seeded generator.
    static let sampleLimit = 200_000

    static func fit(_ x: Matrix, maxBins: Int, seed: UInt64) -> FeatureBinner {
        var rows = Array(0..<x.rows)
        if x.rows > sampleLimit {
            var rng = SeededGenerator(seed: seed)
            rng.shuffle(&rows)
            rows = Array(rows.prefix(sampleLimit)).sorted()
        }
        var thresholds = [[Double]]()
        var raw = [Double](repeating: 0, count: rows.count)
        for f in 0..<x.cols {
            for (k, r) in rows.enumerated() { raw[k] = x.values[r * x.cols + f] }
            let column = Statistics.sortedFinite(raw)
            var distinct = [Double]()
            for v in column where distinct.last != v { distinct.append(v) }
            var edges = [Double]()
            if distinct.count <= maxBins {
                for i in 0..<max(0, distinct.count - 1) { edges.append((distinct[i] + distinct[i + 1]) * 0.5) }
            } else {
                let n = column.count
                for b in 1..<maxBins {
                    let position = Double(b) / Double(maxBins) * Double(n - 1)
                    let lo = Int(position.rounded(.down)), hi = Int(position.rounded(.up))
                    let v = (column[lo] + column[min(hi, n - 1)]) * 0.5
                    if edges.last.map({ v > $0 }) ?? true { edges.append(v) }
                }
            }
            thresholds.append(edges)
        }
        return FeatureBinner(thresholds: thresholds)
    }

    /// Bins of every row, column-major (`cols x rows`).
    func bin(_ x: Matrix) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.rows * x.cols)
        x.values.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                for f in 0..<x.cols {
                    let t = thresholds[f]
                    let column = ob.baseAddress! + f * x.rows
                    t.withUnsafeBufferPointer { tb in
                        for r in 0..<x.rows {
                            let v = xb[r * x.cols + f]
                            // First threshold >= v.
                            var lo = 0, hi = tb.count
                            while lo < hi {
                                let mid = (lo + hi) >> 1
                                if tb[mid] < v { lo = mid + 1 } else { hi = mid }
                            }
                            column[r] = UInt8(truncatingIfNeeded: lo)
                        }
                    }
                }
            }
        }
        return out
    }
}
