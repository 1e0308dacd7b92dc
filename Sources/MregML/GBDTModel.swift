import Foundation

/// Histogram gradient-boosted trees, after scikit-learn's HistGradientBoosting.
///
/// Inputs are pre-binned into at most 255 bins; each tree is grown from gradient/hessian histograms
/// (the larger child's by subtraction from its parent), leaf-wise by best gain (or depth-wise), with
/// `min_samples_leaf`, `max_leaf_nodes`, `max_depth` and an L2 term on leaf values. Losses: half
/// squared error (regression), binary log loss (two classes), softmax cross-entropy (one tree per
/// class and iteration).
struct GBDTModel: Sendable, Equatable {
    /// 0 for regression, else the number of classes.
    var classCount: Int
    /// Raw-score outputs: 1 for regression or two classes, else one per class.
    var outputs: Int
    /// Starting raw score per output.
    var baseline: [Double]
    var trees: [RegressionTree]

    enum Growth: String { case leafwise, depthwise }

    struct Options {
        var learningRate = 0.1
        var maxIterations = 100
        var maxLeafNodes = 31
        var maxDepth = 0
        var minSamplesLeaf = 20
        var l2 = 0.0
        var maxBins = 255
        var growth = Growth.leafwise
        var earlyStopping: Bool? = nil
        var iterationsWithoutChange = 10
        var validationTolerance = 1e-7
        /// Histograms over at least this many row-features are built one feature per thread (same sums
        /// as the serial loop: each feature is still summed by one thread in row order).
        var parallelThreshold = 400_000
    }

    /// Raw scores (rows x outputs) into `out`.
    func rawScores(_ x: UnsafePointer<Double>, rows: Int, width: Int, into out: UnsafeMutablePointer<Double>) {
        for i in 0..<rows {
            for k in 0..<outputs { out[i * outputs + k] = baseline[k] }
        }
        for tree in trees {
            let k = tree.output
            for i in 0..<rows { out[i * outputs + k] += tree.predict(x + i * width) }
        }
    }

    /// Probabilities (rows x classCount) or values (rows) into `out`.
    func predict(_ x: UnsafePointer<Double>, rows: Int, width: Int, into out: UnsafeMutablePointer<Double>) {
        if classCount == 0 || outputs > 1 {
            rawScores(x, rows: rows, width: width, into: out)
            if classCount > 0 {
                for i in 0..<rows { Kernels.softmax(out + i * outputs, outputs) }
            }
            return
        }
        let raw = UnsafeMutablePointer<Double>.allocate(capacity: max(rows, 1))
        defer { raw.deallocate() }
        rawScores(x, rows: rows, width: width, into: raw)
        for i in 0..<rows {
            let p = Kernels.sigmoid(raw[i])
            out[i * 2] = 1 - p
            out[i * 2 + 1] = p
        }
    }

    static func fit(
        _ x: Matrix, targets: TrainingTargets, validation: Matrix, validationTargets: TrainingTargets,
        options: Options, seed: UInt64, progress: (Int, Int) -> Void
    ) -> (model: GBDTModel, iterations: Int) {
        let n = x.rows
        let classCount: Int
        var labels = [Int](), values = [Double]()
        switch targets {
        case .classes(let y, let count):
            classCount = count
            labels = y
        case .values(let y):
            classCount = 0
            values = y
        }
        let outputs = classCount > 2 ? classCount : 1
        // Baseline raw scores: mean, log-odds or log priors.
        var baseline = [Double](repeating: 0, count: outputs)
        if classCount == 0 {
            baseline[0] = values.reduce(0, +) / Double(max(n, 1))
        } else {
            var counts = [Double](repeating: 0, count: classCount)
            for y in labels { counts[y] += 1 }
            let eps = 1e-15
            if outputs == 1 {
                let p = min(max(counts[1] / Double(max(n, 1)), eps), 1 - eps)
                baseline[0] = Foundation.log(p / (1 - p))
            } else {
                for k in 0..<classCount { baseline[k] = Foundation.log(max(counts[k] / Double(max(n, 1)), eps)) }
            }
        }
        var model = GBDTModel(classCount: classCount, outputs: outputs, baseline: baseline, trees: [])
        guard n > 0 else { return (model, 0) }

        let binner = FeatureBinner.fit(x, maxBins: options.maxBins, seed: seed)
        let bins = binner.bin(x)
        let grower = TreeGrower(bins: bins, rows: n, binner: binner, options: options)

        var raw = [Double](repeating: 0, count: n * outputs)
        for i in 0..<n { for k in 0..<outputs { raw[i * outputs + k] = baseline[k] } }
        var gradients = [Double](repeating: 0, count: n * outputs)
        var hessians = [Double](repeating: classCount == 0 ? 1 : 0, count: n * outputs)

        let nv = validation.rows
        let stopEarly = nv > 0 && (options.earlyStopping ?? (n > 10_000))
        var validationRaw = [Double](repeating: 0, count: nv * outputs)
        for i in 0..<nv { for k in 0..<outputs { validationRaw[i * outputs + k] = baseline[k] } }
        var validationLabels = [Int](), validationValues = [Double]()
        switch validationTargets {
        case .classes(let y, _): validationLabels = y
        case .values(let y): validationValues = y
        }
        var bestLoss = Double.infinity
        var bestIterations = 0
        var iterations = 0
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: max(outputs, 1))
        defer { scratch.deallocate() }

        for iteration in 0..<options.maxIterations {
            // Gradients and hessians of the loss at the current raw scores, per output (output-major).
            if classCount == 0 {
                for i in 0..<n { gradients[i] = raw[i] - values[i] }
            } else if outputs == 1 {
                for i in 0..<n {
                    let p = Kernels.sigmoid(raw[i])
                    gradients[i] = p - Double(labels[i])
                    hessians[i] = p * (1 - p)
                }
            } else {
                for i in 0..<n {
                    for k in 0..<outputs { scratch[k] = raw[i * outputs + k] }
                    Kernels.softmax(scratch, outputs)
                    for k in 0..<outputs {
                        let p = scratch[k]
                        gradients[k * n + i] = p - (labels[i] == k ? 1 : 0)
                        hessians[k * n + i] = p * (1 - p)
                    }
                }
            }
            for k in 0..<outputs {
                let tree = gradients.withUnsafeBufferPointer { gb in
                    hessians.withUnsafeBufferPointer { hb in
                        grower.grow(gradients: gb.baseAddress! + k * n, hessians: hb.baseAddress! + k * n,
                                    output: k, raw: &raw, outputs: outputs)
                    }
                }
                model.trees.append(tree)
                if nv > 0 {
                    validation.values.withUnsafeBufferPointer { vb in
                        for i in 0..<nv { validationRaw[i * outputs + k] += tree.predict(vb.baseAddress! + i * validation.cols) }
                    }
                }
            }
            iterations = iteration + 1
            progress(iterations, options.maxIterations)
            if stopEarly {
                let loss = Self.loss(raw: validationRaw, labels: validationLabels, values: validationValues,
                                     classCount: classCount, outputs: outputs, scratch: scratch)
                if loss < bestLoss - options.validationTolerance {
                    bestLoss = loss
                    bestIterations = iterations
                } else if iterations - bestIterations >= options.iterationsWithoutChange {
                    break
                }
            }
        }
        if stopEarly, bestIterations > 0, bestIterations < iterations {
            model.trees.removeLast((iterations - bestIterations) * outputs)
            iterations = bestIterations
        }
        return (model, iterations)
    }

    /// Mean loss of raw scores: half squared error, binary or multinomial log loss.
    static func loss(raw: [Double], labels: [Int], values: [Double], classCount: Int, outputs: Int,
                     scratch: UnsafeMutablePointer<Double>) -> Double {
        var total = 0.0
        if classCount == 0 {
            for i in 0..<values.count {
                let e = raw[i] - values[i]
                total += 0.5 * e * e
            }
            return total / Double(max(values.count, 1))
        }
        for i in 0..<labels.count {
            if outputs == 1 {
                total += Kernels.softplus(raw[i]) - Double(labels[i]) * raw[i]
            } else {
                for k in 0..<outputs { scratch[k] = raw[i * outputs + k] }
                let z = scratch[labels[i]]
                total += Kernels.softmax(scratch, outputs) - z
            }
        }
        return total / Double(max(labels.count, 1))
    }
}
