import Foundation
import MregCore

extension XGBoostModel {
    /// The booster's name, trees and concatenated category sets (`gbtree`, or `dart` with `weight_drop`).
    static func booster(_ gb: ArtifactReader, groups: Int, featureCount: Int) throws(MLError) -> (String, [Tree], [Int32]) {
        let name = try gb.string("name")
        let model: ArtifactReader
        var weights: [Double]? = nil
        switch name {
        case "gbtree":
            model = try gb.object("model")
        case "dart":
            model = try gb.object("gbtree").object("model")
            weights = try gb.numbers("weight_drop")
        default:
            throw .invalidModel("field '\(gb.name("name"))' is '\(MLError.clip(name))': only the gbtree and dart boosters are supported")
        }
        let list = try model.array("trees")
        guard list.count <= ModelLimits.maxTrees else {
            throw .invalidModel("field '\(model.name("trees"))' has \(list.count) trees, more than the limit of \(ModelLimits.maxTrees)")
        }
        if model.has("gbtree_model_param") {
            let declared = try count(try model.object("gbtree_model_param"), "num_trees", in: 0...Int.max)
            guard declared == list.count else {
                throw .invalidModel("field '\(model.name("gbtree_model_param.num_trees"))' is \(declared) but the file has \(list.count) trees")
            }
        }
        let info = try model.ints("tree_info", count: list.count, in: 0...(groups - 1))
        if let weights, weights.count != list.count {
            throw .invalidModel("field '\(gb.name("weight_drop"))' has \(weights.count) values, the model has \(list.count) trees")
        }
        var trees = [Tree]()
        trees.reserveCapacity(list.count)
        var categories = [Int32]()
        var total = 0
        for (i, item) in list.enumerated() {
            let tree = try ArtifactReader(item, path: "\(model.name("trees"))[\(i)]")
            let nodes = try readTree(tree, featureCount: featureCount, categories: &categories)
            total += nodes.count
            guard total <= ModelLimits.maxTotalNodes else {
                throw .invalidModel("the trees have more than \(ModelLimits.maxTotalNodes) nodes in all, the limit")
            }
            trees.append(Tree(nodes: nodes, group: info[i], weight: Float(weights?[i] ?? 1)))
        }
        return (name, trees, categories)
    }

    /// One tree's nodes, checked: shape (a single tree from node 0), features, finite values, category sets.
    static func readTree(_ tree: ArtifactReader, featureCount: Int, categories: inout [Int32]) throws(MLError) -> [Node] {
        let left = try tree.ints("left_children", in: -1...(ModelLimits.maxNodesPerTree - 1))
        let n = left.count
        guard n >= 1, n <= ModelLimits.maxNodesPerTree else {
            throw .invalidModel("field '\(tree.name("left_children"))' has \(n) nodes, expected 1...\(ModelLimits.maxNodesPerTree)")
        }
        if tree.has("tree_param") {
            let declared = try count(try tree.object("tree_param"), "num_nodes", in: 0...Int.max)
            guard declared == n else { throw .invalidModel("field '\(tree.name("tree_param.num_nodes"))' is \(declared) but the tree has \(n) nodes") }
            if try tree.object("tree_param").has("size_leaf_vector") {
                let leafSize = try count(try tree.object("tree_param"), "size_leaf_vector", in: 0...Int.max)
                guard leafSize <= 1 else { throw .invalidModel("field '\(tree.name("tree_param.size_leaf_vector"))' is \(leafSize): vector leaves are not supported") }
            }
        }
        let right = try tree.ints("right_children", count: n, in: -1...(n - 1))
        let feature = try tree.ints("split_indices", count: n, in: 0...Int(Int32.max))
        let value = try tree.numbers("split_conditions", count: n)
        let defaultLeft = try flags(tree, "default_left", count: n)
        let splitType = tree.has("split_type") ? try tree.ints("split_type", count: n, in: 0...1) : Array(repeating: 0, count: n)
        try TreeShape.validate(left: left.map { Int32($0) }, right: right.map { Int32($0) }, path: tree.path)
        var nodes = [Node]()
        nodes.reserveCapacity(n)
        for i in 0..<n {
            let isLeaf = left[i] == -1
            guard isLeaf || feature[i] < featureCount else {
                throw .invalidModel("field '\(tree.name("split_indices"))[\(i)]' is \(feature[i]), the model has \(featureCount) features")
            }
            var f: UInt8 = isLeaf ? Node.leaf : 0
            if defaultLeft[i] { f |= Node.defaultLeft }
            if !isLeaf, splitType[i] == 1 { f |= Node.categorical }
            let v = Float(value[i])
            guard v.isFinite else { throw .invalidModel("field '\(tree.name("split_conditions"))[\(i)]' overflows single precision") }
            nodes.append(Node(left: Int32(left[i]), right: Int32(right[i]), feature: isLeaf ? 0 : Int32(feature[i]),
                              value: v, flags: f, catStart: 0, catCount: 0))
        }
        try readCategories(tree, nodes: &nodes, into: &categories)
        return nodes
    }

    /// 0/1 numbers or booleans, one per node.
    static func flags(_ tree: ArtifactReader, _ key: String, count: Int) throws(MLError) -> [Bool] {
        var out = [Bool]()
        out.reserveCapacity(count)
        for (i, item) in try tree.array(key, count: count).enumerated() {
            switch item {
            case .bool(let b): out.append(b)
            case .number(let d) where d == 0 || d == 1: out.append(d == 1)
            default: throw .invalidModel("field '\(tree.name(key))[\(i)]' must be 0, 1 or a boolean")
            }
        }
        return out
    }

    /// Category sets of categorical splits: `categories_nodes[j]` owns `categories[segments[j] ..< + sizes[j]]`.
    static func readCategories(_ tree: ArtifactReader, nodes: inout [Node], into all: inout [Int32]) throws(MLError) {
        guard tree.has("categories_nodes") else { return }
        let n = nodes.count
        let owners = try tree.ints("categories_nodes", in: 0...(n - 1))
        let segments = try tree.ints("categories_segments", count: owners.count, in: 0...Int.max)
        let sizes = try tree.ints("categories_sizes", count: owners.count, in: 0...Int.max)
        let values = try tree.ints("categories", in: 0...16_777_215)
        var claimed = Set<Int>()
        for (j, node) in owners.enumerated() {
            guard nodes[node].flags & Node.categorical != 0 else {
                throw .invalidModel("field '\(tree.name("categories_nodes"))[\(j)]' is node \(node), which is not a categorical split")
            }
            guard claimed.insert(node).inserted else {
                throw .invalidModel("field '\(tree.name("categories_nodes"))' lists node \(node) twice")
            }
            guard segments[j] <= values.count, sizes[j] <= values.count - segments[j] else {
                throw .invalidModel("field '\(tree.name("categories_segments"))[\(j)]' with size \(sizes[j]) runs past the \(values.count) categories")
            }
            let set = Array(Set(values[segments[j]..<segments[j] + sizes[j]])).sorted().map { Int32($0) }
            guard all.count + set.count <= Int(Int32.max) else { throw .invalidModel("too many categories") }
            nodes[node].catStart = Int32(all.count)
            nodes[node].catCount = Int32(set.count)
            all += set
        }
    }
}
