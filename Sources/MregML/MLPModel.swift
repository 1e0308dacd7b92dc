import Foundation

/// A fully connected network with ReLU hidden layers trained by Adam on minibatches.
///
/// Classification ends in a softmax with cross-entropy; regression in one linear unit with squared
/// error on the standardized target. Weights start Glorot-uniform (as scikit-learn's MLP), the L2 term
/// is `alpha/(2·batch)·||W||²`, and training stops early when the validation loss has not improved by
/// `tolerance` for `patience` epochs, keeping the best weights (the training loss when there is no
/// validation data or early stopping is off).
struct MLPModel: Sendable, Equatable {
    /// Units per layer, input first, output last.
    var sizes: [Int]
    /// Per layer: `sizes[l] x sizes[l+1]` weights, row-major by input unit.
    var weights: [[Double]]
    var biases: [[Double]]
    /// Number of classes, 0 for regression.
    var classCount: Int
    var targetMean: Double
    var targetScale: Double

    struct Options {
        var hidden = [100]
        var learningRate = 0.001
        var alpha = 1e-4
        var batchSize = 200
        var maxEpochs = 200
        var patience = 10
        var tolerance = 1e-4
        var earlyStopping = true
    }

    var outputWidth: Int { sizes.last ?? 0 }

    static func fit(
        _ x: Matrix, targets: TrainingTargets, validation: Matrix, validationTargets: TrainingTargets,
        options: Options, seed: UInt64, progress: (Int, Int) -> Void
    ) -> (model: MLPModel, epochs: Int) {
        var rng = SeededGenerator(seed: seed)
        let classCount: Int
        var yMean = 0.0, yScale = 1.0
        switch targets {
        case .classes(_, let count): classCount = count
        case .values(let y):
            classCount = 0
            let stats = Statistics.meanAndStd(y)
            yMean = stats.mean.isFinite ? stats.mean : 0
            // Population scale, like a StandardScaler on the target.
            let population = stats.std * (Double(max(y.count - 1, 0)) / Double(max(y.count, 1))).squareRoot()
            yScale = population > 1e-12 ? population : 1
        }
        let sizes = [x.cols] + options.hidden + [classCount > 0 ? classCount : 1]
        var model = MLPModel(sizes: sizes, weights: [], biases: [], classCount: classCount, targetMean: yMean, targetScale: yScale)
        for l in 0..<(sizes.count - 1) {
            let fanIn = sizes[l], fanOut = sizes[l + 1]
            let bound = (6.0 / Double(fanIn + fanOut)).squareRoot()
            model.weights.append((0..<(fanIn * fanOut)).map { _ in rng.uniform(-bound, bound) })
            model.biases.append((0..<fanOut).map { _ in rng.uniform(-bound, bound) })
        }
        let n = x.rows
        guard n > 0 else { return (model, 0) }
        let batch = max(1, min(options.batchSize, n))
        let work = MLPWorkspace(sizes: sizes, batch: batch)
        let trainY = Self.encodedTargets(targets, mean: yMean, scale: yScale)
        let validationY = Self.encodedTargets(validationTargets, mean: yMean, scale: yScale)
        let useValidation = options.earlyStopping && validation.rows > 0

        var adamM = model.weights.map { [Double](repeating: 0, count: $0.count) }
        var adamV = adamM
        var adamMb = model.biases.map { [Double](repeating: 0, count: $0.count) }
        var adamVb = adamMb
        var gradW = adamM
        var gradB = adamMb
        var step = 0
        var order = Array(0..<n)
        var best = Double.infinity
        var bestModel = model
        var stale = 0
        var epochs = 0
        let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8

        for epoch in 1...max(1, options.maxEpochs) {
            epochs = epoch
            rng.shuffle(&order)
            var trainLoss = 0.0
            var start = 0
            while start < n {
                let count = min(batch, n - start)
                x.values.withUnsafeBufferPointer { xb in
                    for r in 0..<count {
                        (work.activations[0] + r * x.cols).update(from: xb.baseAddress! + order[start + r] * x.cols, count: x.cols)
                    }
                }
                model.forward(work, count: count)
                trainLoss += model.backward(work, count: count, targets: trainY, rows: order, offset: start, alpha: options.alpha,
                                            gradW: &gradW, gradB: &gradB) * Double(count)
                step += 1
                let correction = (1 - Foundation.pow(beta2, Double(step))).squareRoot() / (1 - Foundation.pow(beta1, Double(step)))
                let rate = options.learningRate * correction
                for l in 0..<model.weights.count {
                    Self.adam(&model.weights[l], gradW[l], &adamM[l], &adamV[l], rate, beta1, beta2, epsilon)
                    Self.adam(&model.biases[l], gradB[l], &adamMb[l], &adamVb[l], rate, beta1, beta2, epsilon)
                }
                start += count
            }
            let monitored = useValidation ? model.loss(validation, validationY, work: work) : trainLoss / Double(n)
            if !monitored.isFinite { break }
            if monitored < best - options.tolerance {
                best = monitored
                bestModel = model
                stale = 0
            } else {
                if monitored < best {
                    best = monitored
                    if useValidation { bestModel = model }
                }
                stale += 1
            }
            progress(epoch, options.maxEpochs)
            if stale >= options.patience { break }
        }
        if !useValidation { bestModel = model }
        return (bestModel, epochs)
    }

    /// Targets as the network sees them: class indices as doubles, or standardized values.
    static func encodedTargets(_ targets: TrainingTargets, mean: Double, scale: Double) -> [Double] {
        switch targets {
        case .classes(let y, _): return y.map(Double.init)
        case .values(let y): return y.map { ($0 - mean) / scale }
        }
    }

    static func adam(_ p: inout [Double], _ g: [Double], _ m: inout [Double], _ v: inout [Double],
                     _ rate: Double, _ beta1: Double, _ beta2: Double, _ epsilon: Double) {
        let count = p.count
        p.withUnsafeMutableBufferPointer { pp in
            g.withUnsafeBufferPointer { gp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        for i in 0..<count {
                            let gi = gp[i]
                            mp[i] = beta1 * mp[i] + (1 - beta1) * gi
                            vp[i] = beta2 * vp[i] + (1 - beta2) * gi * gi
                            pp[i] -= rate * mp[i] / (vp[i].squareRoot() + epsilon)
                        }
                    }
                }
            }
        }
    }

    /// Runs `count` rows of `work.activations[0]` through the network; the output layer holds
    /// probabilities (classification) or standardized values (regression).
    func forward(_ work: MLPWorkspace, count: Int) {
        let layers = sizes.count - 1
        for l in 0..<layers {
            let nIn = sizes[l], nOut = sizes[l + 1]
            let input = work.activations[l], output = work.activations[l + 1]
            weights[l].withUnsafeBufferPointer { wb in
                biases[l].withUnsafeBufferPointer { bb in
                    let w = wb.baseAddress!
                    for r in 0..<count {
                        let o = output + r * nOut
                        o.update(from: bb.baseAddress!, count: nOut)
                        let a = input + r * nIn
                        for i in 0..<nIn {
                            let v = a[i]
                            if v != 0 { Kernels.axpy(v, w + i * nOut, o, nOut) }
                        }
                        if l < layers - 1 {
                            for j in 0..<nOut where o[j] < 0 { o[j] = 0 }
                        } else if classCount > 0 {
                            Kernels.softmax(o, nOut)
                        }
                    }
                }
            }
        }
    }

    /// Gradients of the mean batch loss (plus the L2 term) into `gradW`/`gradB`; returns the mean data loss.
    func backward(_ work: MLPWorkspace, count: Int, targets: [Double], rows: [Int], offset: Int, alpha: Double,
                  gradW: inout [[Double]], gradB: inout [[Double]]) -> Double {
        let layers = sizes.count - 1
        let nOut = sizes[layers]
        let output = work.activations[layers]
        let delta = work.deltas[layers]
        let invB = 1 / Double(count)
        var loss = 0.0
        for r in 0..<count {
            let y = targets[rows[offset + r]]
            let o = output + r * nOut, dl = delta + r * nOut
            if classCount > 0 {
                let t = Int(y)
                loss -= Foundation.log(max(o[t], 1e-300))
                for j in 0..<nOut { dl[j] = (o[j] - (j == t ? 1 : 0)) * invB }
            } else {
                let e = o[0] - y
                loss += 0.5 * e * e
                dl[0] = e * invB
            }
        }
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let nIn = sizes[l], nOutL = sizes[l + 1]
            let input = work.activations[l], dOut = work.deltas[l + 1]
            let scale = alpha * invB
            weights[l].withUnsafeBufferPointer { wb in
                gradW[l].withUnsafeMutableBufferPointer { gwb in
                    gradB[l].withUnsafeMutableBufferPointer { gbb in
                        let w = wb.baseAddress!, gw = gwb.baseAddress!, gb = gbb.baseAddress!
                        for k in 0..<(nIn * nOutL) { gw[k] = scale * w[k] }
                        gb.update(repeating: 0, count: nOutL)
                        for r in 0..<count {
                            let a = input + r * nIn, d = dOut + r * nOutL
                            for i in 0..<nIn {
                                let v = a[i]
                                if v != 0 { Kernels.axpy(v, d, gw + i * nOutL, nOutL) }
                            }
                            Kernels.axpy(1, d, gb, nOutL)
                        }
                        if l > 0 {
                            let dIn = work.deltas[l]
                            for r in 0..<count {
                                let a = input + r * nIn, d = dOut + r * nOutL, di = dIn + r * nIn
                                for i in 0..<nIn { di[i] = a[i] > 0 ? Kernels.dot(w + i * nOutL, d, nOutL) : 0 }
                            }
                        }
                    }
                }
            }
        }
        return loss * invB
    }

    /// Mean loss on a data set (targets already encoded).
    func loss(_ x: Matrix, _ targets: [Double], work: MLPWorkspace) -> Double {
        var total = 0.0
        let nOut = outputWidth
        var start = 0
        while start < x.rows {
            let count = min(work.batch, x.rows - start)
            x.values.withUnsafeBufferPointer { xb in
                work.activations[0].update(from: xb.baseAddress! + start * x.cols, count: count * x.cols)
            }
            forward(work, count: count)
            let o = work.activations[sizes.count - 1]
            for r in 0..<count {
                let y = targets[start + r]
                if classCount > 0 {
                    total -= Foundation.log(max(o[r * nOut + Int(y)], 1e-300))
                } else {
                    let e = o[r] - y
                    total += 0.5 * e * e
                }
            }
            start += count
        }
        return total / Double(max(x.rows, 1))
    }

    /// Probabilities (rows x classCount) or values (rows) for `rows` rows of `x`.
    func predict(_ x: UnsafePointer<Double>, rows: Int, into out: UnsafeMutablePointer<Double>, work: MLPWorkspace) {
        let nOut = outputWidth
        var start = 0
        while start < rows {
            let count = min(work.batch, rows - start)
            work.activations[0].update(from: x + start * sizes[0], count: count * sizes[0])
            forward(work, count: count)
            let o = work.activations[sizes.count - 1]
            if classCount > 0 {
                (out + start * nOut).update(from: o, count: count * nOut)
            } else {
                for r in 0..<count { out[start + r] = o[r] * targetScale + targetMean }
            }
            start += count
        }
    }
}

/// Activation and delta buffers for one batch size, freed with the workspace.
final class MLPWorkspace {
    let batch: Int
    let activations: [UnsafeMutablePointer<Double>]
    let deltas: [UnsafeMutablePointer<Double>]

    init(sizes: [Int], batch: Int) {
        self.batch = batch
        activations = sizes.map { size in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, size * batch))
            p.initialize(repeating: 0, count: max(1, size * batch))
            return p
        }
        deltas = sizes.map { size in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: max(1, size * batch))
            p.initialize(repeating: 0, count: max(1, size * batch))
            return p
        }
    }

    deinit {
        for p in activations { p.deallocate() }
        for p in deltas { p.deallocate() }
    }
}
