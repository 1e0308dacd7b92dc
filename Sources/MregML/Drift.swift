import Foundation
import MregCore

/// Drift statistics between live data and a training baseline (`baseline.json`): pure functions.
///
/// The formulas and their thresholds are specified in `docs/monitoring.md`.
public enum Drift {
    // MARK: - Numeric

    /// Finite values in ascending order (a radix sort: linear time on a million values).
    public static func sorted(_ values: [Double]) -> [Double] {
        Statistics.sortedFinite(values)
    }

    /// The baseline's cumulative distribution at `x`, from quantiles at probabilities
    /// `0, 1/(k-1), ..., 1` joined linearly: `(below, atOrBelow)` = (F(x−), F(x)). Tied quantiles
    /// make F jump, as the training data's ties did.
    public static func baselineCDF(_ x: Double, quantiles q: [Double]) -> (below: Double, atOrBelow: Double) {
        let last = q.count - 1
        guard last >= 0 else { return (.nan, .nan) }
        if last == 0 { return (x <= q[0] ? 0 : 1, x < q[0] ? 0 : 1) }
        let step = Double(last)
        var atOrBelow: Double
        if x < q[0] {
            atOrBelow = 0
        } else if x >= q[last] {
            atOrBelow = 1
        } else {
            // j: the last index with q[j] <= x (so q[j + 1] > x).
            var lo = 0, hi = last
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if q[mid] <= x { lo = mid } else { hi = mid }
            }
            atOrBelow = (Double(lo) + (x - q[lo]) / (q[lo + 1] - q[lo])) / step
        }
        var below: Double
        if x <= q[0] {
            below = 0
        } else if x > q[last] {
            below = 1
        } else {
            // k: the first index with q[k] >= x (k >= 1, so q[k - 1] < x).
            var lo = 0, hi = last
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if q[mid] < x { lo = mid } else { hi = mid }
            }
            below = (Double(lo) + (x - q[lo]) / (q[hi] - q[lo])) / step
        }
        atOrBelow = min(max(atOrBelow, 0), 1)
        below = min(max(below, 0), atOrBelow)
        return (below, atOrBelow)
    }

    /// Kolmogorov–Smirnov distance sup |Fₙ(x) − F(x)| between a sorted sample and the baseline CDF
    /// given by its quantiles (see `baselineCDF`); 0 for an empty sample.
    ///
    /// Both functions are right-continuous steps or ramps, so the supremum is reached at a sample
    /// value, just before it or at it.
    public static func ksDistance(sorted sample: [Double], quantiles: [Double]) -> Double {
        let n = sample.count
        guard n > 0, !quantiles.isEmpty else { return 0 }
        var d = 0.0
        var i = 0
        let count = Double(n)
        while i < n {
            let x = sample[i]
            var k = i + 1
            while k < n && sample[k] == x { k += 1 }
            let f = baselineCDF(x, quantiles: quantiles)
            d = max(d, abs(Double(i) / count - f.below), abs(Double(k) / count - f.atOrBelow))
            i = k
        }
        return d
    }

    /// c(α) = sqrt(−ln(α/2) / 2), the Kolmogorov–Smirnov coefficient of significance level α.
    public static func ksCoefficient(alpha: Double) -> Double {
        (-log(alpha / 2) / 2).squareRoot()
    }

    /// The two-sample KS critical value c(α)·sqrt((n + m)/(n·m)): a live sample of n values and a
    /// baseline of m; distances above it reject "same distribution" at level α. Small windows get
    /// a wide allowance, and a huge window never gets a smaller one than the baseline's own noise.
    public static func ksCriticalValue(alpha: Double, n: Int, m: Int) -> Double {
        guard n > 0, m > 0 else { return .infinity }
        return ksCoefficient(alpha: alpha) * (Double(n + m) / (Double(n) * Double(m))).squareRoot()
    }

    /// Counts of values per baseline histogram bin: bin i holds edges[i] <= x < edges[i+1], the last
    /// bin also its right edge; values below the first edge go to the first bin, above the last to
    /// the last bin.
    public static func binCounts(_ values: [Double], edges: [Double]) -> [Int] {
        let bins = max(edges.count - 1, 1)
        var counts = [Int](repeating: 0, count: bins)
        guard edges.count >= 2 else {
            counts[0] = values.lazy.filter(\.isFinite).count
            return counts
        }
        for x in values where x.isFinite {
            // The last edge index i in 0..<bins with edges[i] <= x.
            var lo = 0, hi = bins
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if edges[mid] <= x { lo = mid } else { hi = mid }
            }
            counts[lo] += 1
        }
        return counts
    }

    /// Smallest proportion PSI uses for a bin, so that an empty bin does not make it infinite.
    public static let psiFloor = 0.0001

    /// Population stability index Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over bins, with expected (baseline) and
    /// actual (live) counts turned into proportions, each at least `psiFloor`.
    public static func psi(expected: [Int], actual: [Int]) -> Double {
        let e = Double(expected.reduce(0, +)), a = Double(actual.reduce(0, +))
        guard e > 0, a > 0, expected.count == actual.count else { return 0 }
        var total = 0.0
        for (x, y) in zip(expected, actual) {
            let pe = max(Double(x) / e, psiFloor), pa = max(Double(y) / a, psiFloor)
            total += (pa - pe) * log(pa / pe)
        }
        return total
    }

    // MARK: - Categorical

    /// Jensen–Shannon distance (the square root of the divergence, base 2, in [0, 1]) between two
    /// count or frequency vectors over the same categories.
    public static func jensenShannonDistance(_ p: [Double], _ q: [Double]) -> Double {
        let sp = p.reduce(0, +), sq = q.reduce(0, +)
        guard sp > 0, sq > 0, p.count == q.count else { return 0 }
        var divergence = 0.0
        for (x, y) in zip(p, q) {
            let a = x / sp, b = y / sq, m = (a + b) / 2
            if a > 0 { divergence += 0.5 * a * log2(a / m) }
            if b > 0 { divergence += 0.5 * b * log2(b / m) }
        }
        return max(divergence, 0).squareRoot()
    }

    /// Pearson's chi-square test of homogeneity on the 2×k table of baseline and live counts:
    /// statistic, degrees of freedom (categories seen in either, minus one) and p-value.
    public static func chiSquareHomogeneity(_ baseline: [Double], _ live: [Double]) -> (statistic: Double, degreesOfFreedom: Int, pValue: Double) {
        let rb = baseline.reduce(0, +), rl = live.reduce(0, +)
        let n = rb + rl
        guard rb > 0, rl > 0, baseline.count == live.count else { return (0, 0, 1) }
        var statistic = 0.0
        var categories = 0
        for (b, l) in zip(baseline, live) {
            let column = b + l
            guard column > 0 else { continue }
            categories += 1
            let eb = rb * column / n, el = rl * column / n
            statistic += (b - eb) * (b - eb) / eb + (l - el) * (l - el) / el
        }
        let dof = categories - 1
        guard dof > 0 else { return (0, 0, 1) }
        return (statistic, dof, chiSquareSurvival(statistic, degreesOfFreedom: dof))
    }

    /// P(X ≥ x) for a chi-square variable with `degreesOfFreedom`: the regularized upper incomplete
    /// gamma function Q(k/2, x/2).
    public static func chiSquareSurvival(_ x: Double, degreesOfFreedom k: Int) -> Double {
        guard k > 0 else { return 1 }
        guard x > 0 else { return 1 }
        return upperGamma(Double(k) / 2, x / 2)
    }

    /// Regularized upper incomplete gamma Q(a, x): a series below a + 1, a continued fraction above.
    static func upperGamma(_ a: Double, _ x: Double) -> Double {
        let logPrefix = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, ap = a
            for _ in 0..<10_000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-15 { break }
            }
            return min(max(1 - sum * exp(logPrefix), 0), 1)
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return min(max(exp(logPrefix) * h, 0), 1)
    }
}

// MARK: - Baselines and checks

/// One feature of `baseline.json`, read for drift checks.
public struct FeatureBaseline: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case numeric(NumericBaseline)
        /// Category → count.
        case categorical([String: Int])
    }

    public var name: String
    public var count: Int
    public var missing: Int
    public var kind: Kind

    public var isNumeric: Bool {
        if case .numeric = kind { return true }
        return false
    }

    /// Share of missing values in training.
    public var missingRate: Double { count + missing > 0 ? Double(missing) / Double(count + missing) : 0 }

    public init(name: String, count: Int, missing: Int, kind: Kind) {
        self.name = name
        self.count = count
        self.missing = missing
        self.kind = kind
    }
}

/// The numeric statistics of a baseline feature that the checks use.
public struct NumericBaseline: Sendable, Equatable {
    public var mean: Double
    public var std: Double
    public var min: Double
    public var max: Double
    /// 101 quantiles, 0 % to 100 %.
    public var quantiles: [Double]
    public var edges: [Double]
    public var counts: [Int]

    public init(mean: Double, std: Double, min: Double, max: Double, quantiles: [Double], edges: [Double], counts: [Int]) {
        self.mean = mean
        self.std = std
        self.min = min
        self.max = max
        self.quantiles = quantiles
        self.edges = edges
        self.counts = counts
    }
}

/// `baseline.json` as the monitor reads it: features in schema order and the target.
public struct BaselineFile: Sendable {
    public var rows: Int
    public var features: [FeatureBaseline]
    public var target: FeatureBaseline?

    /// Reads and checks `baseline.json` (`schemaVersion` 1, `format` `mreg-baseline`); errors name the field.
    public init(data: Data, file: String) throws(MLError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw MLError.invalidModel("\(file): \(error)")
        }
        guard json["format"]?.stringValue == Baseline.format else { throw MLError.invalidModel("\(file): format is not '\(Baseline.format)'") }
        guard json["schemaVersion"]?.intValue == 1 else { throw MLError.invalidModel("\(file): unsupported schemaVersion (expected 1)") }
        rows = json["rows"]?.intValue ?? 0
        guard let list = json["features"]?.arrayValue else { throw MLError.invalidModel("\(file): 'features' must be an array") }
        features = try list.enumerated().map { (i, f) throws(MLError) in try BaselineFile.feature(f, at: "\(file): features[\(i)]") }
        target = try json["target"].map { (t) throws(MLError) in try BaselineFile.feature(t, at: "\(file): target") }
    }

    static func feature(_ f: JSONValue, at place: String) throws(MLError) -> FeatureBaseline {
        guard let name = f["name"]?.stringValue else { throw MLError.invalidModel("\(place): 'name' must be a string") }
        guard let count = f["count"]?.intValue, let missing = f["missing"]?.intValue else {
            throw MLError.invalidModel("\(place) ('\(name)'): 'count' and 'missing' must be integers")
        }
        switch f["type"]?.stringValue {
        case "numeric":
            guard count > 0 else {
                return FeatureBaseline(name: name, count: 0, missing: missing, kind: .numeric(
                    NumericBaseline(mean: .nan, std: .nan, min: .nan, max: .nan, quantiles: [], edges: [], counts: [])))
            }
            func number(_ key: String) throws(MLError) -> Double {
                guard let v = f[key]?.doubleValue else { throw MLError.invalidModel("\(place) ('\(name)'): '\(key)' must be a number") }
                return v
            }
            let quantiles = f["quantiles"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            guard quantiles.count >= 2, zip(quantiles, quantiles.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw MLError.invalidModel("\(place) ('\(name)'): 'quantiles' must be ascending numbers")
            }
            let edges = f["histogram"]?["edges"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            let counts = f["histogram"]?["counts"]?.arrayValue?.compactMap(\.intValue) ?? []
            guard edges.count == counts.count + 1 || (edges.count == 2 && counts.count == 1) else {
                throw MLError.invalidModel("\(place) ('\(name)'): 'histogram' needs one more edge than counts")
            }
            return FeatureBaseline(name: name, count: count, missing: missing, kind: .numeric(NumericBaseline(
                mean: try number("mean"), std: try number("std"), min: try number("min"), max: try number("max"),
                quantiles: quantiles, edges: edges, counts: counts)))
        case "categorical":
            guard let categories = f["categories"]?.objectValue else {
                throw MLError.invalidModel("\(place) ('\(name)'): 'categories' must be an object")
            }
            var counts = [String: Int]()
            for (k, v) in categories {
                guard let c = v.intValue else { throw MLError.invalidModel("\(place) ('\(name)'): category '\(k)' needs an integer count") }
                counts[k] = c
            }
            return FeatureBaseline(name: name, count: count, missing: missing, kind: .categorical(counts))
        default:
            throw MLError.invalidModel("\(place) ('\(name)'): 'type' must be 'numeric' or 'categorical'")
        }
    }
}

/// One statistic of one feature: its value, the threshold it is held to, and whether it passed.
public struct DriftCheck: Sendable, Equatable {
    /// `ks`, `meanShift`, `missingRate`, `psi`, `outOfRange`, `chiSquare`, `jensenShannon`, `unseen`.
    public var name: String
    public var value: Double
    /// The bound it is compared with; nil for statistics only reported.
    public var threshold: Double?
    /// False for reported-only statistics (PSI, values out of range, unseen categories).
    public var gated: Bool
    public var passed: Bool
    /// A short explanation: `D 0.31 > 0.25 (n 50, m 220, α 0.01)`.
    public var detail: String
}

/// What the drift checks found for one feature.
public struct FeatureDrift: Sendable {
    public enum Status: String, Sendable { case ok, drift, insufficient = "insufficient-data" }

    public var name: String
    /// `numeric` or `categorical`.
    public var type: String
    /// Rows seen, and how many of them had the value missing.
    public var rows: Int
    public var missing: Int
    public var checks: [DriftCheck]
    public var status: Status
    /// For histograms: bin labels with baseline and live proportions (numeric: the baseline bins;
    /// categorical: categories, unseen ones too).
    public var bins: [(label: String, baseline: Double, live: Double)]

    /// The gated checks that failed.
    public var failed: [DriftCheck] { checks.filter { $0.gated && !$0.passed } }
}

/// Thresholds of the drift checks (`monitoring:` in `mreg.yaml`).
public struct DriftThresholds: Sendable {
    public var kSigma: Double
    public var ksAlpha: Double
    public var chiSquareAlpha: Double
    public var jsMax: Double
    public var missingRateIncrease: Double
    public var minRows: Int

    public init(kSigma: Double = 1, ksAlpha: Double = 0.01, chiSquareAlpha: Double = 0.01, jsMax: Double = 0.1,
                missingRateIncrease: Double = 0.1, minRows: Int = 30) {
        self.kSigma = kSigma
        self.ksAlpha = ksAlpha
        self.chiSquareAlpha = chiSquareAlpha
        self.jsMax = jsMax
        self.missingRateIncrease = missingRateIncrease
        self.minRows = minRows
    }
}

extension Drift {
    static func f(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf") }
        return String(format: "%.4f", d)
    }

    /// The missing-rate check shared by both kinds.
    static func missingCheck(baseline: FeatureBaseline, rows: Int, missing: Int, t: DriftThresholds) -> DriftCheck {
        let live = rows > 0 ? Double(missing) / Double(rows) : 0
        let increase = live - baseline.missingRate
        return DriftCheck(
            name: "missingRate", value: increase, threshold: t.missingRateIncrease, gated: true,
            passed: increase <= t.missingRateIncrease,
            detail: "missing \(f(live)) vs \(f(baseline.missingRate)) in training")
    }

    /// Checks a numeric feature: sorted live values (finite), and the rows that had it missing.
    ///
    /// Gated: KS distance against the critical value, mean shift in baseline standard deviations,
    /// missing-rate increase. Reported: PSI on the baseline bins, the share of values outside the
    /// training range. With fewer than `minRows` values the distribution checks are not judged.
    public static func checkNumeric(_ baseline: FeatureBaseline, sorted live: [Double], missing: Int, thresholds t: DriftThresholds) -> FeatureDrift {
        let rows = live.count + missing
        var checks = [DriftCheck]()
        var bins = [(label: String, baseline: Double, live: Double)]()
        guard case .numeric(let b) = baseline.kind else { preconditionFailure("not a numeric baseline") }
        let enough = live.count >= t.minRows && b.quantiles.count >= 2
        if enough {
            let n = live.count
            let d = ksDistance(sorted: live, quantiles: b.quantiles)
            let critical = ksCriticalValue(alpha: t.ksAlpha, n: n, m: baseline.count)
            checks.append(DriftCheck(
                name: "ks", value: d, threshold: critical, gated: true, passed: d <= critical,
                detail: "D \(f(d)) vs c(α)·sqrt((n+m)/(n·m)) = \(f(critical)) (n \(n), m \(baseline.count), α \(t.ksAlpha))"))
            var sum = 0.0
            for x in live { sum += x }
            let mean = sum / Double(n)
            let shift: Double = b.std > 0 ? (mean - b.mean) / b.std : (mean == b.mean ? 0 : .infinity)
            checks.append(DriftCheck(
                name: "meanShift", value: shift, threshold: t.kSigma, gated: true, passed: abs(shift) <= t.kSigma,
                detail: "mean \(f(mean)) vs \(f(b.mean)), std \(f(b.std))"))
            let liveBins = binCounts(live, edges: b.edges)
            let psi = self.psi(expected: b.counts, actual: liveBins)
            checks.append(DriftCheck(name: "psi", value: psi, threshold: nil, gated: false, passed: true, detail: "over the \(b.counts.count) baseline bins"))
            var below = 0, above = 0
            for x in live {
                if x < b.min { below += 1 } else { break }
            }
            for x in live.reversed() {
                if x > b.max { above += 1 } else { break }
            }
            checks.append(DriftCheck(
                name: "outOfRange", value: Double(below + above) / Double(n), threshold: nil, gated: false, passed: true,
                detail: "\(below) below \(f(b.min)), \(above) above \(f(b.max))"))
            let be = Double(b.counts.reduce(0, +)), le = Double(n)
            // Enough decimals to tell neighbouring edges apart.
            let width = b.edges.count > 1 ? (b.edges[b.edges.count - 1] - b.edges[0]) / Double(b.edges.count - 1) : 0
            let decimals = width > 0 ? Swift.min(Swift.max(0, Int((-log10(width)).rounded(.up)) + 1), 8) : 0
            func edge(_ x: Double) -> String { String(format: "%.\(decimals)f", x) }
            for i in 0..<b.counts.count {
                let label = b.edges.count > i + 1 ? "\(edge(b.edges[i]))–\(edge(b.edges[i + 1]))" : edge(b.edges.first ?? .nan)
                bins.append((label, be > 0 ? Double(b.counts[i]) / be : 0, Double(liveBins[i]) / le))
            }
        }
        if rows >= t.minRows { checks.append(missingCheck(baseline: baseline, rows: rows, missing: missing, t: t)) }
        let status: FeatureDrift.Status = rows < t.minRows ? .insufficient
            : checks.contains { $0.gated && !$0.passed } ? .drift : enough ? .ok : .insufficient
        return FeatureDrift(name: baseline.name, type: "numeric", rows: rows, missing: missing, checks: checks, status: status, bins: bins)
    }

    /// Checks a categorical feature from live category counts and missing rows.
    ///
    /// Gated: a change in frequencies that is both significant (chi-square test of homogeneity
    /// against the baseline counts at `chiSquareAlpha`) and material (Jensen–Shannon distance above
    /// `jsMax`); missing-rate increase. Reported: the share of live values in categories training
    /// never saw (they count in both statistics).
    public static func checkCategorical(_ baseline: FeatureBaseline, live: [String: Int], missing: Int, thresholds t: DriftThresholds) -> FeatureDrift {
        guard case .categorical(let base) = baseline.kind else { preconditionFailure("not a categorical baseline") }
        let present = live.values.reduce(0, +)
        let rows = present + missing
        var checks = [DriftCheck]()
        var bins = [(label: String, baseline: Double, live: Double)]()
        let enough = present >= t.minRows && !base.isEmpty
        if enough {
            let names = Set(base.keys).union(live.keys).sorted()
            let b = names.map { Double(base[$0] ?? 0) }, l = names.map { Double(live[$0] ?? 0) }
            let js = jensenShannonDistance(b, l)
            let chi = chiSquareHomogeneity(b, l)
            let significant = chi.pValue < t.chiSquareAlpha
            checks.append(DriftCheck(
                name: "jensenShannon", value: js, threshold: t.jsMax, gated: true, passed: !(significant && js > t.jsMax),
                detail: "JS distance \(f(js)), χ² p \(f(chi.pValue))"
                    + (js > t.jsMax && !significant ? " (not significant at this sample size)" : "")))
            checks.append(DriftCheck(
                name: "chiSquare", value: chi.pValue, threshold: t.chiSquareAlpha, gated: false, passed: !significant,
                detail: "χ² \(f(chi.statistic)), \(chi.degreesOfFreedom) dof, p \(f(chi.pValue))"))
            let unseen = names.filter { base[$0] == nil }
            let unseenCount = unseen.reduce(0) { $0 + (live[$1] ?? 0) }
            checks.append(DriftCheck(
                name: "unseen", value: Double(unseenCount) / Double(present), threshold: nil, gated: false, passed: true,
                detail: unseen.isEmpty ? "none" : "\(unseenCount) values in \(unseen.count) unseen: \(unseen.prefix(5).joined(separator: ", "))"))
            let sb = b.reduce(0, +), sl = l.reduce(0, +)
            for (i, name) in names.enumerated() { bins.append((name, sb > 0 ? b[i] / sb : 0, sl > 0 ? l[i] / sl : 0)) }
        }
        if rows >= t.minRows { checks.append(missingCheck(baseline: baseline, rows: rows, missing: missing, t: t)) }
        let status: FeatureDrift.Status = rows < t.minRows ? .insufficient
            : checks.contains { $0.gated && !$0.passed } ? .drift : enough ? .ok : .insufficient
        return FeatureDrift(name: baseline.name, type: "categorical", rows: rows, missing: missing, checks: checks, status: status, bins: bins)
    }
}
