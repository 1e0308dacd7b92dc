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
        /// The same tree for branch-free walks of a fixed number of steps; nil for a tree with a
        /// categorical split or deeper than `FlatNode.maxDepth`.
        var flat: [FlatNode]?
        /// Splits on the longest path from the root.
        var depth: Int

        init(nodes: [Node], group: Int, weight: Float) {
            self.nodes = nodes
            self.group = group
            self.weight = weight
            let (flat, depth) = FlatNode.flatten(nodes)
            self.flat = flat
            self.depth = depth
        }
    }

    /// A node of a tree walked without branches: a leaf is its own left and right child and keeps its
    /// value in `threshold`, so every row can take the same number of steps.
    struct FlatNode: Sendable {
        var threshold: Float
        /// The split feature, with `defaultLeftBit` set when a missing value goes left.
        var feature: UInt32
        var left: Int32
        var right: Int32

        static let defaultLeftBit: UInt32 = 1 << 31
        static let maxDepth = 32

        /// The flat nodes and the depth; nil nodes when the tree has a categorical split or is too deep.
        static func flatten(_ nodes: [Node]) -> ([FlatNode]?, Int) {
            var depth = [Int](repeating: 0, count: nodes.count)
            var deepest = 0
            var flat = [FlatNode]()
            flat.reserveCapacity(nodes.count)
            var categorical = false
            // Validated trees are walked from the root, so a parent's depth is known before its children's.
            var stack = [0]
            while let i = stack.popLast() {
                let node = nodes[i]
                deepest = Swift.max(deepest, depth[i])
                guard node.flags & Node.leaf == 0 else { continue }
                for child in [Int(node.left), Int(node.right)] {
                    depth[child] = depth[i] + 1
                    stack.append(child)
                }
            }
            for (i, node) in nodes.enumerated() {
                if node.flags & Node.leaf != 0 {
                    flat.append(FlatNode(threshold: node.value, feature: 0, left: Int32(i), right: Int32(i)))
                } else {
                    if node.flags & Node.categorical != 0 { categorical = true }
                    let bit = node.flags & Node.defaultLeft != 0 ? defaultLeftBit : 0
                    flat.append(FlatNode(threshold: node.value, feature: UInt32(node.feature) | bit, left: node.left, right: node.right))
                }
            }
            return (categorical || deepest > maxDepth ? nil : flat, deepest)
        }

        /// The child a row goes to; a missing value (NaN) fails both comparisons, so it goes left
        /// exactly when the node says so. A leaf stays where it is.
        @inline(__always)
        static func step(_ nodes: UnsafePointer<FlatNode>, _ n: Int32, _ x: UnsafePointer<Float>) -> Int32 {
            let node = nodes[Int(n)]
            let v = x[Int(node.feature & ~defaultLeftBit)]
            let right = node.feature & defaultLeftBit != 0 ? v >= node.threshold : !(v < node.threshold)
            return right ? node.right : node.left
        }
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
                        if let flat = tree.flat {
                            flat.withUnsafeBufferPointer { nodes in
                                XGBoostModel.addFlat(nodes.baseAddress!, depth: tree.depth, x, width: width, count: count,
                                                     group: tree.group, groups: groups, weight: tree.weight, into: m)
                            }
                            continue
                        }
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

    /// Adds one flat tree's leaf values to the margins of `count` rows, eight rows in lockstep.
    @inline(__always)
    static func addFlat(_ nodes: UnsafePointer<FlatNode>, depth: Int, _ x: UnsafePointer<Float>, width: Int, count: Int,
                        group g: Int, groups: Int, weight w: Float, into m: UnsafeMutablePointer<Float>) {
        var r = 0
        while r + 8 <= count {
            let p = x + r * width
            var n0: Int32 = 0, n1: Int32 = 0, n2: Int32 = 0, n3: Int32 = 0
            var n4: Int32 = 0, n5: Int32 = 0, n6: Int32 = 0, n7: Int32 = 0
            for _ in 0..<depth {
                n0 = FlatNode.step(nodes, n0, p)
                n1 = FlatNode.step(nodes, n1, p + width)
                n2 = FlatNode.step(nodes, n2, p + 2 * width)
                n3 = FlatNode.step(nodes, n3, p + 3 * width)
                n4 = FlatNode.step(nodes, n4, p + 4 * width)
                n5 = FlatNode.step(nodes, n5, p + 5 * width)
                n6 = FlatNode.step(nodes, n6, p + 6 * width)
                n7 = FlatNode.step(nodes, n7, p + 7 * width)
            }
            let leaves = (nodes[Int(n0)].threshold, nodes[Int(n1)].threshold, nodes[Int(n2)].threshold, nodes[Int(n3)].threshold,
                          nodes[Int(n4)].threshold, nodes[Int(n5)].threshold, nodes[Int(n6)].threshold, nodes[Int(n7)].threshold)
            let o = m + r * groups + g
            if w == 1 {
                o[0] += leaves.0; o[groups] += leaves.1; o[2 * groups] += leaves.2; o[3 * groups] += leaves.3
                o[4 * groups] += leaves.4; o[5 * groups] += leaves.5; o[6 * groups] += leaves.6; o[7 * groups] += leaves.7
            } else {
                o[0] += leaves.0 * w; o[groups] += leaves.1 * w; o[2 * groups] += leaves.2 * w; o[3 * groups] += leaves.3 * w
                o[4 * groups] += leaves.4 * w; o[5 * groups] += leaves.5 * w; o[6 * groups] += leaves.6 * w; o[7 * groups] += leaves.7 * w
            }
            r += 8
        }
        while r < count {
            var n: Int32 = 0
            for _ in 0..<depth { n = FlatNode.step(nodes, n, x + r * width) }
            let leaf = nodes[Int(n)].threshold
            m[r * groups + g] += w == 1 ? leaf : leaf * w
            r += 1
        }
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
