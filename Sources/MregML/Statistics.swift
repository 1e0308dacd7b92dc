import Foundation

/// Small descriptive statistics shared by preprocessing and the baseline.
enum Statistics {
    /// The finite values in ascending order, by an LSD radix sort on their IEEE-754 bits (six 11-bit
    /// passes): linear time, and the same order on every platform.
    static func sortedFinite(_ values: [Double]) -> [Double] {
        var keys = [UInt64]()
        keys.reserveCapacity(values.count)
        for v in values where v.isFinite {
            let bits = v.bitPattern
            keys.append(bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63))
        }
        let n = keys.count
        guard n > 1 else { return keys.map(Self.decode) }
        if n < 256 { return keys.sorted().map(Self.decode) }
        var buffer = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 2048)
        keys.withUnsafeMutableBufferPointer { a in
            buffer.withUnsafeMutableBufferPointer { b in
                counts.withUnsafeMutableBufferPointer { c in
                    var source = a, target = b
                    for pass in 0..<6 {
                        let shift = UInt64(pass * 11)
                        for i in 0..<2048 { c[i] = 0 }
                        for i in 0..<n { c[Int((source[i] >> shift) & 0x7FF)] += 1 }
                        // Skip a pass where every key has the same digit.
                        if c[Int((source[0] >> shift) & 0x7FF)] == n { continue }
                        var total = 0
                        for i in 0..<2048 {
                            let count = c[i]
                            c[i] = total
                            total += count
                        }
                        for i in 0..<n {
                            let key = source[i]
                            let digit = Int((key >> shift) & 0x7FF)
                            target[c[digit]] = key
                            c[digit] += 1
                        }
                        swap(&source, &target)
                    }
                    if source.baseAddress != a.baseAddress {
                        a.baseAddress!.update(from: source.baseAddress!, count: n)
                    }
                }
            }
        }
        return keys.map(Self.decode)
    }

    @inline(__always)
    static func decode(_ key: UInt64) -> Double {
        Double(bitPattern: key & (1 << 63) != 0 ? key & ~(1 << 63) : ~key)
    }

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
