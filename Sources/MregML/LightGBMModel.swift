import Foundation

/// A LightGBM tree ensemble loaded from its text model file (`Booster.save_model`).
///
/// Scoring follows LightGBM's `Tree::Decision` in double precision: a numerical split goes left when
/// `x <= threshold`, missing values follow the node's `missing_type` (None: NaN reads as 0; Zero: 0 and
/// NaN take the default direction; NaN: NaN does), a categorical split goes left when the integer
/// category is in the node's bitset (NaN and negative categories go right). Leaf values already hold
/// the shrinkage; trees add to their class in file order, divided by the iterations for `average_output`.
public final class LightGBMModel: Scorer {
    /// How the summed raw score becomes the prediction.
    enum Link: Sendable { case identity, square, sigmoid(Double), exp, softmax }

    /// One node; leaves hold their value in `value`, inner nodes their threshold.
    struct Node: Sendable {
        var left: Int32
        var right: Int32
        var feature: Int32
        var flags: UInt8
        var value: Double
        /// Start and length of the node's category bitset in `LightGBMModel.bitsets` (categorical splits).
        var catStart: Int32
        var catWords: Int32

        static let leaf: UInt8 = 0x80, categorical: UInt8 = 1, defaultLeft: UInt8 = 2
        /// `(flags >> 2) & 3`: 0 None, 1 Zero, 2 NaN.
        var missingType: UInt8 { (flags >> 2) & 3 }
    }

    struct Tree: Sendable {
        var nodes: [Node]
        var output: Int
    }

    public let format: ModelFormat = .lightgbmText
    public let task: Task
    public let features: [FeatureSpec]
    public let classes: [String]?
    /// The objective line of the file, e.g. `binary sigmoid:1`.
    public let objective: String
    let link: Link
    let outputs: Int
    let trees: [Tree]
    let bitsets: [UInt32]
    /// Divisor of the summed scores: the number of iterations for `average_output` (random forests), else 1.
    let divisor: Double
    /// Label-to-code tables of categorical features from `pandas_categorical`, or nil per feature.
    let categoryCodes: [[String: Double]?]

    init(objective: String, link: Link, task: Task, features: [FeatureSpec], outputs: Int, trees: [Tree],
         bitsets: [UInt32], divisor: Double, categoryCodes: [[String: Double]?]) {
        self.objective = objective
        self.link = link
        self.task = task
        self.features = features
        self.outputs = outputs
        self.trees = trees
        self.bitsets = bitsets
        self.divisor = divisor
        self.categoryCodes = categoryCodes
        classes = task == .classification ? (0..<max(outputs, 2)).map(String.init) : nil
    }

    /// Rows scored per block.
    static let block = 256

    /// Raw scores, row-major `rows x outputs`, as `Booster.predict(raw_score=True)` gives them, except
    /// that `average_output` models (random forests) are averaged here too (LightGBM only averages `predict`).
    public func rawScores(_ input: ModelInput) -> [Double] {
        let rows = max(0, input.rowCount)
        let width = features.count
        var out = [Double](repeating: 0, count: rows * outputs)
        guard rows > 0 else { return out }
        let blockRows = max(1, min(LightGBMModel.block, rows, (1 << 20) / max(width, 1)))
        let x = UnsafeMutablePointer<Double>.allocate(capacity: max(1, blockRows * width))
        defer { x.deallocate() }
        let reader = FeatureBlock(width: width, categories: categoryCodes)
        out.withUnsafeMutableBufferPointer { ob in
            bitsets.withUnsafeBufferPointer { bits in
                var start = 0
                while start < rows {
                    let count = min(blockRows, rows - start)
                    reader.fill(input, start: start, count: count, into: x)
                    // LightGBM drops values within 1e-35 of zero from its input rows: they read as 0.
                    for i in 0..<(count * width) where abs(x[i]) <= 1e-35 { x[i] = 0 }
                    let m = ob.baseAddress! + start * outputs
                    for tree in trees {
                        tree.nodes.withUnsafeBufferPointer { nodes in
                            for r in 0..<count { m[r * outputs + tree.output] += LightGBMModel.leaf(nodes, x + r * width, bits) }
                        }
                    }
                    if divisor != 1 { for i in 0..<(count * outputs) { m[i] /= divisor } }
                    start += count
                }
            }
        }
        return out
    }

    /// The leaf value a row reaches; the tree was validated at load, so the walk ends at a leaf.
    @inline(__always)
    static func leaf(_ nodes: UnsafeBufferPointer<Node>, _ x: UnsafePointer<Double>, _ bits: UnsafeBufferPointer<UInt32>) -> Double {
        var n = 0
        while true {
            let node = nodes[n]
            if node.flags & Node.leaf != 0 { return node.value }
            var v = x[Int(node.feature)]
            if node.flags & Node.categorical != 0 {
                // NaN, negative (after truncation toward zero) and out-of-int-range categories go right.
                guard !v.isNaN, v > -1, v < 2_147_483_648 else { n = Int(node.right); continue }
                let c = Int(v)
                let word = c >> 5
                let hit = word < Int(node.catWords) && (bits[Int(node.catStart) + word] >> UInt32(c & 31)) & 1 == 1
                n = Int(hit ? node.left : node.right)
                continue
            }
            let missing = node.missingType
            if v.isNaN && missing != 2 { v = 0 }
            if (missing == 1 && abs(v) <= 1e-35) || (missing == 2 && v.isNaN) {
                n = Int(node.flags & Node.defaultLeft != 0 ? node.left : node.right)
            } else {
                n = Int(v <= node.value ? node.left : node.right)
            }
        }
    }

    public func predict(_ input: ModelInput) -> Predictions {
        let rows = max(0, input.rowCount)
        var raw = rawScores(input)
        switch link {
        case .identity: return Predictions(rowCount: rows, values: raw)
        case .square: return Predictions(rowCount: rows, values: raw.map { $0 < 0 ? -$0 * $0 : $0 * $0 })
        case .exp: return Predictions(rowCount: rows, values: raw.map { Foundation.exp($0) })
        case .sigmoid(let scale):
            var probabilities = [Double](repeating: 0, count: rows * 2)
            var indices = [Int](repeating: 0, count: rows)
            for r in 0..<rows {
                let p = 1 / (1 + Foundation.exp(-scale * raw[r]))
                probabilities[r * 2] = 1 - p
                probabilities[r * 2 + 1] = p
                indices[r] = p > 0.5 ? 1 : 0
            }
            return Predictions(rowCount: rows, labels: indices.map { classes![$0] }, classIndices: indices,
                               probabilities: probabilities, classCount: 2)
        case .softmax:
            var indices = [Int](repeating: 0, count: rows)
            raw.withUnsafeMutableBufferPointer { rb in
                for r in 0..<rows {
                    let p = rb.baseAddress! + r * outputs
                    var best = 0
                    for k in 1..<outputs where p[k] > p[best] { best = k }
                    indices[r] = best
                    LightGBMModel.softmax(p, outputs)
                }
            }
            return Predictions(rowCount: rows, labels: indices.map { classes![$0] }, classIndices: indices,
                               probabilities: raw, classCount: outputs)
        }
    }

    /// LightGBM's `Common::Softmax`: exponentials of the differences to the largest score, normalised.
    static func softmax(_ p: UnsafeMutablePointer<Double>, _ n: Int) {
        var wmax = p[0]
        for i in 1..<n { wmax = max(p[i], wmax) }
        var sum = 0.0
        for i in 0..<n {
            p[i] = Foundation.exp(p[i] - wmax)
            sum += p[i]
        }
        for i in 0..<n { p[i] /= sum }
    }
}
