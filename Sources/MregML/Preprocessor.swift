import Foundation

/// The fitted input pipeline: impute, standardize and one-hot encode, in feature order.
///
/// Numeric features: missing (or non-finite) values take the training median, then `(x - mean) / scale`
/// with the training mean and population standard deviation (scale 1 when that is 0).
/// Categorical features: missing values take the most frequent training category, then one-hot over the
/// kept categories (at most `maxCategories`, the most frequent) plus a last "unknown" column for
/// categories never seen or not kept.
struct Preprocessor: Sendable {
    enum Step: Sendable, Equatable {
        case numeric(fill: Double, mean: Double, scale: Double)
        case categorical(categories: [String], fill: String?)
    }

    /// Most categories one-hot encoded per feature; rarer ones share the unknown column.
    static let maxCategories = 100

    let features: [FeatureSpec]
    let steps: [Step]
    /// First output column of each feature.
    let offsets: [Int]
    /// Number of output columns.
    let width: Int
    /// Category -> position, per feature (empty for numeric features).
    let indexes: [[String: Int]]
    /// 1 / scale, per feature (0 for categorical features).
    let inverseScales: [Double]

    init(features: [FeatureSpec], steps: [Step]) {
        self.features = features
        self.steps = steps
        var offsets = [Int]()
        var width = 0
        var indexes = [[String: Int]]()
        var inverse = [Double]()
        for step in steps {
            offsets.append(width)
            switch step {
            case .numeric(_, _, let scale):
                width += 1
                indexes.append([:])
                inverse.append(1 / scale)
            case .categorical(let categories, _):
                width += categories.count + 1
                var index = [String: Int](minimumCapacity: categories.count)
                for (i, c) in categories.enumerated() { index[c] = i }
                indexes.append(index)
                inverse.append(0)
            }
        }
        self.offsets = offsets
        self.width = width
        self.indexes = indexes
        self.inverseScales = inverse
    }

    /// Fits every step on the given columns (already restricted to training rows); `sorted` may hold the
    /// finite values of numeric columns already sorted (see `Statistics.sortedFinite`) to save sorting twice.
    static func fit(features: [FeatureSpec], columns: [FeatureColumn], sorted: [[Double]?] = []) -> Preprocessor {
        var steps = [Step]()
        for (f, (spec, column)) in zip(features, columns).enumerated() {
            switch (spec.type, column) {
            case (.numeric, .numeric(let values)):
                steps.append(fitNumeric(values, sorted: f < sorted.count ? sorted[f] : nil))
            case (.categorical, .categorical(let values)):
                steps.append(fitCategorical(values))
            case (.numeric, .categorical(let values)):
                steps.append(fitNumeric(values.map { $0.flatMap(NumberParser.parse) ?? .nan }))
            case (.categorical, .numeric(let values)):
                steps.append(fitCategorical(values.map { $0.isFinite ? FeatureColumn.categoryText($0) : nil }))
            }
        }
        return Preprocessor(features: features, steps: steps)
    }

    static func fitNumeric(_ values: [Double], sorted: [Double]? = nil) -> Step {
        let present = sorted ?? Statistics.sortedFinite(values)
        guard !present.isEmpty else { return .numeric(fill: 0, mean: 0, scale: 1) }
        let median = Statistics.quantile(sorted: present, 0.5)
        var sum = 0.0
        for v in values { sum += v.isFinite ? v : median }
        let mean = sum / Double(values.count)
        var squares = 0.0
        for v in values {
            let d = (v.isFinite ? v : median) - mean
            squares += d * d
        }
        let std = (squares / Double(values.count)).squareRoot()
        return .numeric(fill: median, mean: mean, scale: std > 1e-12 * max(1, abs(mean)) ? std : 1)
    }

    static func fitCategorical(_ values: [String?]) -> Step {
        var counts = [String: Int]()
        for case let v? in values { counts[v, default: 0] += 1 }
        let ranked = counts.sorted { a, b in a.value != b.value ? a.value > b.value : utf8Less(a.key, b.key) }
        let kept = ranked.prefix(maxCategories).map(\.key).sorted(by: utf8Less)
        return .categorical(categories: kept, fill: ranked.first?.key)
    }

    /// Writes rows `start..<start+count` of the columns into `out` (count x width, row-major).
    ///
    /// Columns shorter than the range read as missing; a numeric feature given as text is parsed and a
    /// categorical feature given as numbers uses their canonical text, so no input can trap.
    func transform(_ columns: [FeatureColumn], start: Int, count: Int, into out: UnsafeMutablePointer<Double>) {
        let width = self.width
        out.initialize(repeating: 0, count: count * width)
        for f in 0..<steps.count {
            let offset = offsets[f]
            let column = f < columns.count ? columns[f] : .numeric([])
            switch steps[f] {
            case .numeric(let fill, let mean, _):
                let inv = inverseScales[f]
                switch column {
                case .numeric(let values):
                    values.withUnsafeBufferPointer { v in
                        let available = max(0, min(count, v.count - start))
                        var p = out + offset
                        for r in 0..<available {
                            let x = v[start + r]
                            p.pointee = ((x.isFinite ? x : fill) - mean) * inv
                            p += width
                        }
                        for _ in available..<count {
                            p.pointee = (fill - mean) * inv
                            p += width
                        }
                    }
                case .categorical(let values):
                    for r in 0..<count {
                        let i = start + r
                        let x = i < values.count ? (values[i].flatMap(NumberParser.parse) ?? fill) : fill
                        out[r * width + offset] = (x - mean) * inv
                    }
                }
            case .categorical(let categories, let fill):
                let index = indexes[f]
                let unknown = categories.count
                switch column {
                case .categorical(let values):
                    let fillIndex = fill.flatMap { index[$0] } ?? unknown
                    for r in 0..<count {
                        let i = start + r
                        var k = fillIndex
                        if i < values.count, let v = values[i] { k = index[v] ?? unknown }
                        out[r * width + offset + k] = 1
                    }
                case .numeric(let values):
                    let fillIndex = fill.flatMap { index[$0] } ?? unknown
                    for r in 0..<count {
                        let i = start + r
                        var k = fillIndex
                        if i < values.count, values[i].isFinite { k = index[FeatureColumn.categoryText(values[i])] ?? unknown }
                        out[r * width + offset + k] = 1
                    }
                }
            }
        }
    }

    /// All rows of the columns as a matrix.
    func transform(_ columns: [FeatureColumn], rowCount: Int) -> Matrix {
        var values = [Double](repeating: 0, count: rowCount * width)
        values.withUnsafeMutableBufferPointer { buf in
            if let base = buf.baseAddress { transform(columns, start: 0, count: rowCount, into: base) }
        }
        return Matrix(rows: rowCount, cols: width, values: values)
    }
}

/// Byte-wise UTF-8 order: fixed across platforms and toolchains, unlike `String <`.
func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
