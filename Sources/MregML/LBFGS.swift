import Foundation

/// Limited-memory BFGS for smooth unconstrained minimization, with a backtracking Armijo line search.
///
/// Stops like SciPy's L-BFGS-B as scikit-learn calls it: when the largest gradient component is at most
/// `gradientTolerance`, when the relative decrease of the objective is at most `functionTolerance`, or
/// after `maxIterations`.
struct LBFGS {
    var memory = 10
    var maxIterations = 100
    var gradientTolerance = 1e-4
    var functionTolerance = 64 * Double.ulpOfOne

    struct Result {
        var x: [Double]
        var value: Double
        var iterations: Int
        var converged: Bool
    }

    /// Minimizes `objective`, which returns f(x) and writes ∇f(x) into its second argument.
    func minimize(
        _ start: [Double],
        _ objective: (UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Double
    ) -> Result {
        let n = start.count
        var x = start
        var g = [Double](repeating: 0, count: n)
        var xNew = x
        var gNew = g
        var d = g
        var f = x.withUnsafeBufferPointer { xp in g.withUnsafeMutableBufferPointer { objective(xp, $0) } }
        var s = [[Double]]()
        var y = [[Double]]()
        var rho = [Double]()
        var alpha = [Double](repeating: 0, count: memory)
        var iterations = 0
        var converged = false

        while iterations < maxIterations {
            if Self.maxAbs(g) <= gradientTolerance {
                converged = true
                break
            }
            // Two-loop recursion: d = -H g.
            for i in 0..<n { d[i] = g[i] }
            let k = s.count
            if k > 0 {
                for j in stride(from: k - 1, through: 0, by: -1) {
                    alpha[j] = rho[j] * Self.dot(s[j], d)
                    Self.axpy(-alpha[j], y[j], &d)
                }
                let gamma = Self.dot(s[k - 1], y[k - 1]) / Self.dot(y[k - 1], y[k - 1])
                for i in 0..<n { d[i] *= gamma }
                for j in 0..<k {
                    let beta = rho[j] * Self.dot(y[j], d)
                    Self.axpy(alpha[j] - beta, s[j], &d)
                }
            }
            for i in 0..<n { d[i] = -d[i] }
            var slope = Self.dot(d, g)
            if slope >= 0 {
                s.removeAll()
                y.removeAll()
                rho.removeAll()
                for i in 0..<n { d[i] = -g[i] }
                slope = -Self.dot(g, g)
            }
            var step = k == 0 ? min(1, 1 / max(Self.dot(g, g).squareRoot(), 1e-300)) : 1.0
            var accepted = false
            var fNew = f
            for _ in 0..<40 {
                for i in 0..<n { xNew[i] = x[i] + step * d[i] }
                fNew = xNew.withUnsafeBufferPointer { xp in gNew.withUnsafeMutableBufferPointer { objective(xp, $0) } }
                if fNew.isFinite, fNew <= f + 1e-4 * step * slope {
                    accepted = true
                    break
                }
                // Quadratic interpolation of the step, kept within [0.1, 0.5] of the last one.
                let denominator = 2 * (fNew - f - slope * step)
                var next = denominator > 0 && fNew.isFinite ? -slope * step * step / denominator : step * 0.5
                next = min(max(next, step * 0.1), step * 0.5)
                step = next
            }
            iterations += 1
            guard accepted else { break }
            var sNew = [Double](repeating: 0, count: n)
            var yNew = [Double](repeating: 0, count: n)
            for i in 0..<n {
                sNew[i] = xNew[i] - x[i]
                yNew[i] = gNew[i] - g[i]
            }
            let sy = Self.dot(sNew, yNew)
            if sy > 1e-10 * Self.dot(yNew, yNew) {
                if s.count == memory {
                    s.removeFirst()
                    y.removeFirst()
                    rho.removeFirst()
                }
                s.append(sNew)
                y.append(yNew)
                rho.append(1 / sy)
            }
            let fOld = f
            swap(&x, &xNew)
            swap(&g, &gNew)
            f = fNew
            if (fOld - f) / max(abs(fOld), abs(f), 1) <= functionTolerance {
                converged = true
                break
            }
        }
        if !converged, Self.maxAbs(g) <= gradientTolerance { converged = true }
        return Result(x: x, value: f, iterations: iterations, converged: converged)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }

    static func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
        for i in 0..<x.count { y[i] += a * x[i] }
    }

    static func maxAbs(_ a: [Double]) -> Double {
        var m = 0.0
        for v in a { m = max(m, abs(v)) }
        return m
    }
}
