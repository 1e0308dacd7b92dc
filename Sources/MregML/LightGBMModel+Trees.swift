import Foundation
import MregCore

extension LightGBMModel {
    /// One tree's nodes, checked: inner nodes first, then leaves (LightGBM's child `~k` is leaf `k`).
    static func tree(_ block: Block, index: Int, width: Int, bitsets: inout [UInt32]) throws(MLError) -> [Node] {
        if let linear = block.keys["is_linear"], linear != "0" {
            throw .invalidModel("\(block.name) is a linear tree (is_linear=\(MLError.clip(linear))), which is not supported")
        }
        let leaves = try int(block, "num_leaves", in: 1...(ModelLimits.maxNodesPerTree / 2))
        let values = try numbers(block, "leaf_value", count: leaves)
        let inner = leaves - 1
        guard inner > 0 else {
            return [Node(left: -1, right: -1, feature: 0, flags: Node.leaf, value: values[0], catStart: 0, catWords: 0)]
        }
        let feature = try ints(block, "split_feature", count: inner, in: 0...(width - 1))
        let threshold = try numbers(block, "threshold", count: inner)
        let decision = try ints(block, "decision_type", count: inner, in: 0...127)
        // Children: k >= 0 is inner node k, -1 - k is leaf k, which sits at inner + k here.
        let map = { (c: Int) -> Int32 in Int32(c >= 0 ? c : inner + (-1 - c)) }
        let left = try ints(block, "left_child", count: inner, in: -leaves...(inner - 1)).map(map)
        let right = try ints(block, "right_child", count: inner, in: -leaves...(inner - 1)).map(map)
        try TreeShape.validate(left: left + Array(repeating: -1, count: leaves), right: right + Array(repeating: -1, count: leaves),
                               path: block.name)
        let sets = try categorySets(block, bitsets: &bitsets)
        var nodes = [Node]()
        nodes.reserveCapacity(inner + leaves)
        for i in 0..<inner {
            let flags = UInt8(decision[i])
            guard (flags >> 2) & 3 != 3, flags >> 4 == 0 else {
                throw .invalidModel("key 'decision_type' in \(block.name): value \(i) is \(decision[i]), not a known decision type")
            }
            var node = Node(left: left[i], right: right[i], feature: Int32(feature[i]), flags: flags, value: threshold[i],
                            catStart: 0, catWords: 0)
            if flags & Node.categorical != 0 {
                guard let k = Int(exactly: threshold[i]), k >= 0, k < sets.count else {
                    throw .invalidModel("key 'threshold' in \(block.name): value \(i) names category set \(JSONValue.format(threshold[i])), the tree has \(sets.count)")
                }
                node.catStart = Int32(sets[k].lowerBound)
                node.catWords = Int32(sets[k].count)
            }
            nodes.append(node)
        }
        for v in values { nodes.append(Node(left: -1, right: -1, feature: 0, flags: Node.leaf, value: v, catStart: 0, catWords: 0)) }
        return nodes
    }

    /// The tree's category bitsets (`cat_boundaries` into `cat_threshold` words), appended to `bitsets`.
    static func categorySets(_ block: Block, bitsets: inout [UInt32]) throws(MLError) -> [Range<Int>] {
        let count = block.keys["num_cat"] == nil ? 0 : try int(block, "num_cat", in: 0...ModelLimits.maxNodesPerTree)
        guard count > 0 else { return [] }
        let words = try ints(block, "cat_threshold", count: nil, in: 0...Int(UInt32.max))
        let bounds = try ints(block, "cat_boundaries", count: count + 1, in: 0...words.count)
        guard bounds.first == 0, bounds.last == words.count, zip(bounds, bounds.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw .invalidModel("key 'cat_boundaries' in \(block.name) must rise from 0 to \(words.count), the length of 'cat_threshold'")
        }
        let base = bitsets.count
        bitsets += words.map { UInt32($0) }
        return (0..<count).map { (base + bounds[$0])..<(base + bounds[$0 + 1]) }
    }

    /// Label-to-code tables from the `pandas_categorical` trailer: its lists belong, in order, to the
    /// categorical features, and a label's code is its position in its list.
    static func categoryCodes(_ trailer: String?, features: [FeatureSpec]) throws(MLError) -> [[String: Double]?] {
        var out = [[String: Double]?](repeating: nil, count: features.count)
        guard let trailer, trailer != "null", !trailer.isEmpty else { return out }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Data(trailer.utf8), maxDepth: ModelLimits.maxNesting)
        } catch {
            throw .invalidModel("key 'pandas_categorical' is not valid JSON: \(error.description)")
        }
        let lists = try ArtifactReader.array(json, "pandas_categorical", count: nil)
        let categorical = features.indices.filter { features[$0].type == .categorical }
        guard lists.count == categorical.count else {
            throw .invalidModel("key 'pandas_categorical' has \(lists.count) lists, the model has \(categorical.count) categorical features")
        }
        for (feature, list) in zip(categorical, lists) {
            var table = [String: Double]()
            for (code, label) in try ArtifactReader.array(list, "pandas_categorical", count: nil).enumerated() {
                switch label {
                case .string(let s): table[s] = Double(code)
                case .number(let d): table[FeatureColumn.categoryText(d)] = Double(code)
                case .bool(let b): table[b ? "True" : "False"] = Double(code)
                default: throw .invalidModel("key 'pandas_categorical' holds a \(label.typeName) category")
                }
            }
            out[feature] = table
        }
        return out
    }
}
