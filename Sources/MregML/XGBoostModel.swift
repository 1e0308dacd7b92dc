import Foundation

/// An XGBoost tree ensemble (`gbtree` or `dart`) loaded from its JSON or UBJSON model file.
///
/// Scoring follows XGBoost's CPU predictor bit for bit where it can: inputs are narrowed to `Float`,
/// a numeric split goes left when `x < threshold`, a categorical split goes right when the category
/// is in the node's set, a missing value (NaN) takes the node's default direction, and each row's
/// margin starts at the base score and adds the trees' leaves in file order in single precision.
public final class XGBoostModel: Scorer {
    /// How the margin becomes the prediction.
    enum Link: Sendable { case identity, sigmoid, exp, softmax }

    /// One node; leaves hold their value in `value`, inner nodes their threshold.
    struct Node: Sendable {
        var left: Int32
        var right: Int32
        var feature: Int32
        var value: Float
        var flags: UInt8
        /// Start and length of the node's category set in `XGBoostModel.categories` (categorical splits).
        var catStart: Int32
        var catCount: Int32

        static let leaf: UInt8 = 1, defaultLeft: UInt8 = 2, categorical: UInt8 = 4
    }

    struct Tree: Sendable {
        var nodes: [Node]
        /// The output group (class) the tree adds to.
        var group: Int
        /// The dart weight (`weight_drop`), 1 for gbtree.
        var weight: Float
    }

    public let format: ModelFormat
    public let task: Task
    public let features: [FeatureSpec]
    public let classes: [String]?
    /// The objective named in the file, e.g. `binary:logistic`.
    public let objective: String
    /// The booster named in the file: `gbtree` or `dart`.
    public let booster: String
    let link: Link
    /// Margins per row: 1, or the number of classes.
    let groups: Int
    /// Starting margin per group (the base score through the objective's link).
    let baseMargin: [Float]
    let trees: [Tree]
    /// Sorted category sets of every categorical split, concatenated.
    let categories: [Int32]
    /// Label-to-code tables of categorical features from the file's `cats` (XGBoost >= 3.1), or nil per feature.
    let categoryCodes: [[String: Double]?]

    init(format: ModelFormat, objective: String, booster: String, features: [FeatureSpec], groups: Int,
         baseMargin: [Float], trees: [Tree], categories: [Int32], categoryCodes: [[String: Double]?]) throws(MLError) {
        self.format = format
        self.objective = objective
        self.booster = booster
        self.features = features
        self.groups = groups
        self.baseMargin = baseMargin
        self.trees = trees
        self.categories = categories
        self.categoryCodes = categoryCodes
        guard let (task, link) = XGBoostModel.objectives[objective] else {
            throw .invalidModel("objective '\(objective)' is not supported (supported: \(XGBoostModel.objectives.keys.sorted().joined(separator: ", ")))")
        }
        self.task = task
        self.link = link
        if task == .classification {
            classes = (0..<max(groups, 2)).map(String.init)
        } else {
            classes = nil
        }
    }

    /// The objectives scored here: the task they do and the link from margin to prediction.
    static let objectives: [String: (Task, Link)] = [
        "binary:logistic": (.classification, .sigmoid),
        "binary:logitraw": (.classification, .sigmoid),
        "multi:softprob": (.classification, .softmax),
        "multi:softmax": (.classification, .softmax),
        "reg:squarederror": (.regression, .identity),
        "reg:absoluteerror": (.regression, .identity),
        "reg:logistic": (.regression, .sigmoid),
        "count:poisson": (.regression, .exp),
    ]

    /// Rows scored per block: their inputs stay in cache while every tree walks them.
    static let block = 256

    /// Raw margins, row-major `rows x groups`, as `Booster.predict(output_margin=True)` gives them.
    public func margins(_ input: ModelInput) -> [Float] {
        let rows = max(0, input.rowCount)
        let width = features.count
        var out = [Float](repeating: 0, count: rows * groups)
        guard rows > 0 else { return out }
        let blockRows = max(1, min(XGBoostModel.block, rows, (1 << 20) / max(width, 1)))
        let x = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blockRows * width))
        defer { x.deallocate() }
        let reader = FeatureBlock(width: width, categories: categoryCodes)
        out.withUnsafeMutableBufferPointer { ob in
            categories.withUnsafeBufferPointer { cats in
                var start = 0
                while start < rows {
                    let count = min(blockRows, rows - start)
                    reader.fill(input, start: start, count: count, into: x)
                    let m = ob.baseAddress! + start * groups
                    for r in 0..<count { for g in 0..<groups { m[r * groups + g] = baseMargin[g] } }
                    for tree in trees {
                        tree.nodes.withUnsafeBufferPointer { nodes in
                            let g = tree.group, w = tree.weight
                            var r = 0
                            // Four rows walk the tree in lockstep, so one row's node load hides the others'.
                            while r + 4 <= count {
                                let l = XGBoostModel.leaf4(nodes, x + r * width, width, cats)
                                if w == 1 {
                                    m[r * groups + g] += l.0
                                    m[(r + 1) * groups + g] += l.1
                                    m[(r + 2) * groups + g] += l.2
                                    m[(r + 3) * groups + g] += l.3
                                } else {
                                    m[r * groups + g] += l.0 * w
                                    m[(r + 1) * groups + g] += l.1 * w
                                    m[(r + 2) * groups + g] += l.2 * w
                                    m[(r + 3) * groups + g] += l.3 * w
                                }
                                r += 4
                            }
                            while r < count {
                                let leaf = XGBoostModel.leaf(nodes, x + r * width, cats)
                                m[r * groups + g] += w == 1 ? leaf : leaf * w
                                r += 1
                            }
                        }
                    }
                    start += count
                }
            }
        }
        return out
    }

    /// The leaf value a row reaches; the tree was validated at load, so the walk ends at a leaf.
    @inline(__always)
    static func leaf(_ nodes: UnsafeBufferPointer<Node>, _ x: UnsafePointer<Float>, _ cats: UnsafeBufferPointer<Int32>) -> Float {
        var n = 0
        while true {
            let node = nodes[n]
            if node.flags & Node.leaf != 0 { return node.value }
            let v = x[Int(node.feature)]
            if v.isNaN {
                n = Int(node.flags & Node.defaultLeft != 0 ? node.left : node.right)
            } else if node.flags & Node.categorical != 0 {
                n = Int(inSet(v, cats, Int(node.catStart), Int(node.catCount)) ? node.right : node.left)
            } else {
                n = Int(v < node.value ? node.left : node.right)
            }
        }
    }

    /// The child a row goes to from a split node.
    @inline(__always)
    static func child(_ node: Node, _ x: UnsafePointer<Float>, _ cats: UnsafeBufferPointer<Int32>) -> Int {
        let v = x[Int(node.feature)]
        if v.isNaN { return Int(node.flags & Node.defaultLeft != 0 ? node.left : node.right) }
        if node.flags & Node.categorical != 0 {
            return Int(inSet(v, cats, Int(node.catStart), Int(node.catCount)) ? node.right : node.left)
        }
        return Int(v < node.value ? node.left : node.right)
    }

    /// The leaves four consecutive rows (`width` apart) reach, walked in lockstep; same results as `leaf`.
    @inline(__always)
    static func leaf4(_ nodes: UnsafeBufferPointer<Node>, _ x: UnsafePointer<Float>, _ width: Int,
                      _ cats: UnsafeBufferPointer<Int32>) -> (Float, Float, Float, Float) {
        var n0 = 0, n1 = 0, n2 = 0, n3 = 0
        while true {
            let a = nodes[n0], b = nodes[n1], c = nodes[n2], d = nodes[n3]
            if a.flags & b.flags & c.flags & d.flags & Node.leaf != 0 { return (a.value, b.value, c.value, d.value) }
            if a.flags & Node.leaf == 0 { n0 = child(a, x, cats) }
            if b.flags & Node.leaf == 0 { n1 = child(b, x + width, cats) }
            if c.flags & Node.leaf == 0 { n2 = child(c, x + 2 * width, cats) }
            if d.flags & Node.leaf == 0 { n3 = child(d, x + 3 * width, cats) }
        }
    }

    /// Whether category `v` is in the sorted set; negative or too large categories are in no set.
    @inline(__always)
    static func inSet(_ v: Float, _ cats: UnsafeBufferPointer<Int32>, _ start: Int, _ count: Int) -> Bool {
        guard v >= 0, v < 16_777_216 else { return false }
        let c = Int32(v)
        var lo = start, hi = start + count
        while lo < hi {
            let mid = (lo + hi) / 2
            if cats[mid] < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < start + count && cats[lo] == c
    }

    public func predict(_ input: ModelInput) -> Predictions {
        let rows = max(0, input.rowCount)
        let m = margins(input)
        switch task {
        case .regression:
            let values = m.map { Double(XGBoostModel.apply(link, $0)) }
            return Predictions(rowCount: rows, values: values)
        case .classification:
            return classify(m, rows: rows)
        }
    }

    func classify(_ m: [Float], rows: Int) -> Predictions {
        let k = classes?.count ?? 2
        var probabilities = [Double](repeating: 0, count: rows * k)
        var indices = [Int](repeating: 0, count: rows)
        var scratch = [Float](repeating: 0, count: groups)
        for r in 0..<rows {
            if groups == 1 {
                let p = Double(XGBoostModel.apply(link, m[r]))
                probabilities[r * 2] = 1 - p
                probabilities[r * 2 + 1] = p
                indices[r] = p > 0.5 ? 1 : 0
                continue
            }
            for g in 0..<groups { scratch[g] = m[r * groups + g] }
            var best = 0
            for g in 1..<groups where scratch[g] > scratch[best] { best = g }
            XGBoostModel.softmax(&scratch)
            for g in 0..<groups { probabilities[r * k + g] = Double(scratch[g]) }
            indices[r] = best
        }
        let labels = indices.map { classes?[$0] ?? String($0) }
        return Predictions(rowCount: rows, labels: labels, classIndices: indices, probabilities: probabilities, classCount: k)
    }

    /// The objective's transform of one margin, in single precision as XGBoost computes it.
    @inline(__always)
    static func apply(_ link: Link, _ x: Float) -> Float {
        switch link {
        case .identity, .softmax: return x
        case .sigmoid: return 1 / (Foundation.expf(min(-x, 88.7)) + 1 + 1e-16)
        case .exp: return Foundation.expf(x)
        }
    }

    /// Softmax in place: single-precision exponentials summed in double, as XGBoost does.
    static func softmax(_ v: inout [Float]) {
        guard var wmax = v.first else { return }
        for x in v.dropFirst() { wmax = Swift.max(x, wmax) }
        var sum = 0.0
        for i in v.indices {
            v[i] = Foundation.expf(v[i] - wmax)
            sum += Double(v[i])
        }
        let total = Float(sum)
        for i in v.indices { v[i] /= total }
    }
}
