import Foundation

/// A fitted estimator of one of the algorithms.
enum Estimator: Sendable, Equatable {
    case logistic(LogisticModel)
    case linear(LinearModel)
    case mlp(MLPModel)
    case gbdt(GBDTModel)

    /// Writes probabilities (`rows x classCount`) or values (`rows`) for preprocessed rows.
    func predict(_ x: UnsafePointer<Double>, rows: Int, width: Int, into out: UnsafeMutablePointer<Double>, work: MLPWorkspace?) {
        switch self {
        case .logistic(let m): m.predict(x, rows: rows, into: out)
        case .linear(let m): m.predict(x, rows: rows, into: out)
        case .mlp(let m): m.predict(x, rows: rows, into: out, work: work ?? MLPWorkspace(sizes: m.sizes, batch: max(1, min(rows, 256))))
        case .gbdt(let m): m.predict(x, rows: rows, width: width, into: out)
        }
    }

    /// Predictions for a whole preprocessed matrix.
    func predict(_ x: Matrix, outputWidth: Int) -> [Double] {
        var out = [Double](repeating: 0, count: x.rows * outputWidth)
        guard x.rows > 0 else { return out }
        x.values.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                predict(xb.baseAddress ?? UnsafePointer(bitPattern: 8)!, rows: x.rows, width: x.cols, into: ob.baseAddress!, work: nil)
            }
        }
        return out
    }
}
