import Foundation

/// L2-regularized logistic regression: sigmoid for two classes, multinomial softmax for more.
///
/// Minimizes scikit-learn's objective `mean(log loss) + ||W||² / (2·C·n)` (intercepts unpenalized)
/// with L-BFGS from zero weights, so C means what it means there.
struct LogisticModel: Sendable, Equatable {
    /// Number of classes (at least 2).
    var classCount: Int
    /// Weight rows: 1 for two classes (the logit of class 1), else one per class.
    var outputs: Int
    /// Input width.
    var width: Int
    /// outputs x width, row-major.
    var weights: [Double]
    var intercepts: [Double]

    struct Options {
        var c = 1.0
        var maxIterations = 100
        var tolerance = 1e-4
    }

    static func fit(_ x: Matrix, labels: [Int], classCount: Int, options: Options) -> (model: LogisticModel, iterations: Int) {
        let n = x.rows, d = x.cols
        let outputs = classCount == 2 ? 1 : classCount
        let stride = d + 1
        let lambda = 1 / (options.c * Double(max(n, 1)))
        let invN = 1 / Double(max(n, 1))
        var solver = LBFGS()
        solver.maxIterations = options.maxIterations
        solver.gradientTolerance = options.tolerance
        var z = [Double](repeating: 0, count: outputs)

        let result = x.values.withUnsafeBufferPointer { xb in
            labels.withUnsafeBufferPointer { yb in
                z.withUnsafeMutableBufferPointer { zb in
                    solver.minimize([Double](repeating: 0, count: outputs * stride)) { theta, grad in
                        let t = theta.baseAddress!, g = grad.baseAddress!
                        let zp = zb.baseAddress!
                        g.initialize(repeating: 0, count: outputs * stride)
                        var loss = 0.0
                        if outputs == 1 {
                            let b = t[d]
                            for i in 0..<n {
                                let row = xb.baseAddress! + i * d
                                let zi = b + Kernels.dot(row, t, d)
                                let yi = Double(yb[i])
                                loss += Kernels.softplus(zi) - yi * zi
                                let r = Kernels.sigmoid(zi) - yi
                                Kernels.axpy(r, row, g, d)
                                g[d] += r
                            }
                        } else {
                            for i in 0..<n {
                                let row = xb.baseAddress! + i * d
                                for k in 0..<outputs { zp[k] = t[k * stride + d] + Kernels.dot(row, t + k * stride, d) }
                                let yi = yb[i]
                                let zTrue = zp[yi]
                                let lse = Kernels.softmax(zp, outputs)
                                loss += lse - zTrue
                                for k in 0..<outputs {
                                    let r = zp[k] - (k == yi ? 1 : 0)
                                    Kernels.axpy(r, row, g + k * stride, d)
                                    g[k * stride + d] += r
                                }
                            }
                        }
                        var penalty = 0.0
                        for k in 0..<outputs {
                            for j in 0..<d {
                                let w = t[k * stride + j]
                                penalty += w * w
                                g[k * stride + j] = g[k * stride + j] * invN + lambda * w
                            }
                            g[k * stride + d] *= invN
                        }
                        return loss * invN + 0.5 * lambda * penalty
                    }
                }
            }
        }
        var weights = [Double](repeating: 0, count: outputs * d)
        var intercepts = [Double](repeating: 0, count: outputs)
        for k in 0..<outputs {
            for j in 0..<d { weights[k * d + j] = result.x[k * stride + j] }
            intercepts[k] = result.x[k * stride + d]
        }
        return (LogisticModel(classCount: classCount, outputs: outputs, width: d, weights: weights, intercepts: intercepts), result.iterations)
    }

    /// Class probabilities for `rows` rows of `x` (row-major, `width` wide) into `out` (rows x classCount).
    func predict(_ x: UnsafePointer<Double>, rows: Int, into out: UnsafeMutablePointer<Double>) {
        let d = width, k = classCount
        weights.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress ?? UnsafePointer(bitPattern: 8)!
            if outputs == 1 {
                let b = intercepts[0]
                for i in 0..<rows {
                    let p = Kernels.sigmoid(b + Kernels.dot(x + i * d, w, d))
                    out[i * 2] = 1 - p
                    out[i * 2 + 1] = p
                }
            } else {
                intercepts.withUnsafeBufferPointer { bb in
                    for i in 0..<rows {
                        let o = out + i * k
                        for c in 0..<k { o[c] = bb[c] + Kernels.dot(x + i * d, w + c * d, d) }
                        Kernels.softmax(o, k)
                    }
                }
            }
        }
    }
}
