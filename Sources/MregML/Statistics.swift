import Foundation

/// Small descriptive statistics shared by preprocessing and the baseline.
enum Statistics {
    /// The q-quantile of sorted values with linear interpolation (numpy's default); NaN when empty.
    static func quantile(sorted: [Double], _ q: Double) -> Double {
        guard let first = sorted.first else { return .nan }
        if sorted.count == 1 { return first }
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        if fraction == 0 { return sorted[lower] }
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// Mean and sample standard deviation (n - 1; 0 for fewer than two values).
    static func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (.nan, .nan) }
        var sum = 0.0
        for v in values { sum += v }
        let mean = sum / Double(values.count)
        guard values.count > 1 else { return (mean, 0) }
        var squares = 0.0
        for v in values { squares += (v - mean) * (v - mean) }
        return (mean, (squares / Double(values.count - 1)).squareRoot())
    }

    /// Equal-width histogram over [min, max] of sorted values: `bins + 1` edges and `bins` counts; the
    /// last bin includes its right edge. A single distinct value gives one bin.
    static func histogram(sorted: [Double], bins: Int) -> (edges: [Double], counts: [Int]) {
        guard let low = sorted.first, let high = sorted.last else { return ([], []) }
        if high <= low { return ([low, high], [sorted.count]) }
        let width = (high - low) / Double(bins)
        var edges = (0...bins).map { low + width * Double($0) }
        edges[bins] = high
        var counts = [Int](repeating: 0, count: bins)
        for v in sorted {
            var b = Int(((v - low) / width).rounded(.down))
            b = min(max(b, 0), bins - 1)
            counts[b] += 1
        }
        return (edges, counts)
    }
}
