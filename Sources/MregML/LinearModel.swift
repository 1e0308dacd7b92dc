import Foundation

/// Ridge regression solved in closed form: `(XcᵀXc + αI) w = Xcᵀ yc` on centered data, by Cholesky.
///
/// Same objective as scikit-learn's `Ridge(alpha)`: `||y - Xw - b||² + α||w||²`, intercept unpenalized.
struct LinearModel: Sendable, Equatable {
    var weights: [Double]
    var intercept: Double

    static func fit(_ x: Matrix, targets y: [Double], alpha: Double) -> LinearModel {
        let n = x.rows, d = x.cols
        guard n > 0 else { return LinearModel(weights: [Double](repeating: 0, count: d), intercept: 0) }
        var means = [Double](repeating: 0, count: d)
        var yMean = 0.0
        var gram = [Double](repeating: 0, count: d * d)
        var rhs = [Double](repeating: 0, count: d)
        var nonzero = [Int](repeating: 0, count: d)
        x.values.withUnsafeBufferPointer { xb in
            for i in 0..<n {
                let row = xb.baseAddress! + i * d
                yMean += y[i]
                // One-hot rows are mostly zero: accumulate XᵀX over nonzero entries only.
                var m = 0
                for j in 0..<d where row[j] != 0 {
                    nonzero[m] = j
                    m += 1
                }
                for a in 0..<m {
                    let ja = nonzero[a]
                    let va = row[ja]
                    means[ja] += va
                    rhs[ja] += va * y[i]
                    for b in a..<m {
                        let jb = nonzero[b]
                        gram[ja * d + jb] += va * row[jb]
                    }
                }
            }
        }
        let invN = 1 / Double(n)
        yMean *= invN
        for j in 0..<d { means[j] *= invN }
        // Center: XcᵀXc = XᵀX - n·x̄x̄ᵀ, Xcᵀyc = Xᵀy - n·x̄·ȳ.
        for a in 0..<d {
            rhs[a] -= Double(n) * means[a] * yMean
            for b in a..<d {
                let v = gram[a * d + b] - Double(n) * means[a] * means[b]
                gram[a * d + b] = v
                gram[b * d + a] = v
            }
        }
        var trace = 0.0
        for j in 0..<d { trace += gram[j * d + j] }
        var jitter = 0.0
        var weights = [Double](repeating: 0, count: d)
        for _ in 0..<12 {
            var a = gram
            for j in 0..<d { a[j * d + j] += alpha + jitter }
            if let w = solveCholesky(a, rhs, d) {
                weights = w
                break
            }
            // Singular (alpha 0 with collinear or constant columns): add a tiny ridge and retry.
            jitter = jitter == 0 ? 1e-10 * max(trace / Double(max(d, 1)), 1) : jitter * 100
        }
        var intercept = yMean
        for j in 0..<d { intercept -= means[j] * weights[j] }
        return LinearModel(weights: weights, intercept: intercept)
    }

    /// Solves A w = b for symmetric positive definite A (d x d, row-major); nil when A is not.
    static func solveCholesky(_ a: [Double], _ b: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var sum = a[i * d + j]
                for k in 0..<j { sum -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * d + i] = sum.squareRoot()
                } else {
                    l[i * d + j] = sum / l[j * d + j]
                }
            }
        }
        var z = [Double](repeating: 0, count: d)
        for i in 0..<d {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * d + k] * z[k] }
            z[i] = sum / l[i * d + i]
        }
        var w = [Double](repeating: 0, count: d)
        for i in stride(from: d - 1, through: 0, by: -1) {
            var sum = z[i]
            for k in (i + 1)..<d { sum -= l[k * d + i] * w[k] }
            w[i] = sum / l[i * d + i]
        }
        return w.allSatisfy(\.isFinite) ? w : nil
    }

    /// Predicted values for `rows` rows of `x` into `out`.
    func predict(_ x: UnsafePointer<Double>, rows: Int, into out: UnsafeMutablePointer<Double>) {
        let d = weights.count
        weights.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress ?? UnsafePointer(bitPattern: 8)!
            for i in 0..<rows { out[i] = intercept + Kernels.dot(x + i * d, w, d) }
        }
    }
}
