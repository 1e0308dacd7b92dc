import Foundation
import MregCore

extension LightGBMModel {
    /// Loads a LightGBM text model (`Booster.save_model("model.txt")`); every failure names the key and tree.
    public convenience init(text data: Data) throws(MLError) {
        let sections = try Self.sections(data)
        let header = sections.header
        guard header.keys["version"] != nil else { throw .invalidModel("missing key 'version' in the header") }
        let maxFeature = try Self.int(header, "max_feature_idx", in: 0...(ModelLimits.maxFeatures - 1))
        let width = maxFeature + 1
        let classCount = try Self.int(header, "num_class", in: 1...ModelLimits.maxClasses)
        let perIteration = header.keys["num_tree_per_iteration"] == nil
            ? classCount : try Self.int(header, "num_tree_per_iteration", in: 1...ModelLimits.maxClasses)
        let objectiveLine = header.keys["objective"] ?? "regression"
        let (task, link) = try Self.objective(objectiveLine, classCount: classCount)
        let outputs = classCount > 1 ? classCount : 1
        guard perIteration == outputs else {
            throw .invalidModel("key 'num_tree_per_iteration' is \(perIteration), the objective has \(outputs) outputs")
        }
        let features = try Self.features(header, width: width)
        guard sections.trees.count <= ModelLimits.maxTrees else {
            throw .invalidModel("the file has \(sections.trees.count) trees, more than the limit of \(ModelLimits.maxTrees)")
        }
        var trees = [Tree]()
        trees.reserveCapacity(sections.trees.count)
        var bitsets = [UInt32]()
        var total = 0
        for (i, block) in sections.trees.enumerated() {
            let nodes = try Self.tree(block, index: i, width: width, bitsets: &bitsets)
            total += nodes.count
            guard total <= ModelLimits.maxTotalNodes else {
                throw .invalidModel("the trees have more than \(ModelLimits.maxTotalNodes) nodes in all, the limit")
            }
            trees.append(Tree(nodes: nodes, output: i % outputs))
        }
        let iterations = max(1, trees.count / outputs)
        let divisor = header.keys["average_output"] != nil ? Double(iterations) : 1
        let codes = try Self.categoryCodes(sections.pandasCategorical, features: features)
        self.init(objective: objectiveLine, link: link, task: task, features: features, outputs: outputs, trees: trees,
                  bitsets: bitsets, divisor: divisor, categoryCodes: codes)
    }

    /// `key=value` lines of one part of the file; a bare line (`average_output`) has an empty value.
    struct Block {
        var keys: [String: String] = [:]
        var name: String
    }

    /// The file cut into its header, its trees and the `pandas_categorical` trailer.
    static func sections(_ data: Data) throws(MLError) -> (header: Block, trees: [Block], pandasCategorical: String?) {
        // Lines are cut on bytes: a model file can be many megabytes, too many for grapheme-wise splitting.
        var lines = data.split(separator: 0x0A).lazy.map { line -> String in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }.filter { !$0.isEmpty }.makeIterator()
        guard let first = lines.next(), first == "tree" else { throw .invalidModel("the file does not start with 'tree'") }
        var header = Block(name: "the header")
        var trees = [Block]()
        var ended = false
        var pandas: String? = nil
        while let line = lines.next() {
            if ended {
                if line.hasPrefix("pandas_categorical:") { pandas = String(line.dropFirst("pandas_categorical:".count)) }
                continue
            }
            if line == "end of trees" { ended = true; continue }
            if line.hasPrefix("Tree=") {
                guard trees.count < ModelLimits.maxTrees else {
                    throw .invalidModel("the file has more than \(ModelLimits.maxTrees) trees, the limit")
                }
                trees.append(Block(name: "tree \(trees.count)"))
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]), value = parts.count > 1 ? String(parts[1]) : ""
            if trees.isEmpty { header.keys[key] = value } else { trees[trees.count - 1].keys[key] = value }
        }
        guard ended else { throw .invalidModel("the file ends before 'end of trees' (truncated?)") }
        return (header, trees, pandas)
    }

    static func int(_ block: Block, _ key: String, in range: ClosedRange<Int>) throws(MLError) -> Int {
        guard let text = block.keys[key] else { throw .invalidModel("missing key '\(key)' in \(block.name)") }
        guard let i = Int(text) else { throw .invalidModel("key '\(key)' in \(block.name) is '\(MLError.clip(text))', expected an integer") }
        guard range.contains(i) else {
            throw .invalidModel("key '\(key)' in \(block.name) is \(i), expected \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// Space-separated finite numbers; `count` nil accepts any length.
    static func numbers(_ block: Block, _ key: String, count: Int?) throws(MLError) -> [Double] {
        guard let text = block.keys[key] else { throw .invalidModel("missing key '\(key)' in \(block.name)") }
        var out = [Double]()
        for (i, part) in text.split(separator: " ").enumerated() {
            guard let d = NumberParser.parse(String(part)), d.isFinite else {
                throw .invalidModel("key '\(key)' in \(block.name): value \(i) '\(MLError.clip(String(part)))' is not a finite number")
            }
            out.append(d)
        }
        if let count, out.count != count {
            throw .invalidModel("key '\(key)' in \(block.name) has \(out.count) values, expected \(count)")
        }
        return out
    }

    /// Space-separated integers in `range`.
    static func ints(_ block: Block, _ key: String, count: Int?, in range: ClosedRange<Int>) throws(MLError) -> [Int] {
        var out = [Int]()
        for (i, d) in try numbers(block, key, count: count).enumerated() {
            guard let v = Int(exactly: d), range.contains(v) else {
                throw .invalidModel("key '\(key)' in \(block.name): value \(i) is \(JSONValue.format(d)), expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            out.append(v)
        }
        return out
    }

    /// The task and link of an objective line such as `binary sigmoid:1` or `multiclass num_class:3`.
    static func objective(_ line: String, classCount: Int) throws(MLError) -> (Task, Link) {
        let parts = line.split(separator: " ").map(String.init)
        let name = parts.first ?? ""
        var options = [String: String]()
        for p in parts.dropFirst() {
            let kv = p.split(separator: ":", maxSplits: 1).map(String.init)
            options[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        let known: Set<String>
        let result: (Task, Link)
        switch name {
        case "binary":
            guard let s = options["sigmoid"].flatMap(Double.init), s.isFinite, s > 0 else {
                throw .invalidModel("objective '\(MLError.clip(line))' needs a positive sigmoid:VALUE")
            }
            known = ["sigmoid"]
            result = (.classification, .sigmoid(s))
        case "multiclass":
            guard classCount >= 2 else { throw .invalidModel("objective 'multiclass' with num_class \(classCount)") }
            known = ["num_class"]
            result = (.classification, .softmax)
        case "regression", "regression_l1":
            known = ["sqrt"]
            result = (.regression, options["sqrt"] != nil ? .square : .identity)
        case "poisson":
            known = []
            result = (.regression, .exp)
        default:
            throw .invalidModel("objective '\(MLError.clip(line))' is not supported (supported: binary, multiclass, regression, regression_l1, poisson)")
        }
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidModel("objective '\(MLError.clip(line))' has option '\(unknown)', which is not supported")
        }
        if name != "multiclass", classCount != 1 { throw .invalidModel("objective '\(name)' with num_class \(classCount)") }
        return result
    }

    /// Names from `feature_names`, types from `feature_infos` (a category list such as `0:1:2` is categorical).
    static func features(_ header: Block, width: Int) throws(MLError) -> [FeatureSpec] {
        var names = (0..<width).map { "Column_\($0)" }
        if let text = header.keys["feature_names"] {
            let list = text.split(separator: " ").map(String.init)
            guard list.count == width else {
                throw .invalidModel("key 'feature_names' has \(list.count) names, the model has \(width) features (max_feature_idx + 1)")
            }
            guard Set(list).count == width else { throw .invalidModel("key 'feature_names' has duplicates") }
            names = list
        }
        var types = [FeatureType](repeating: .numeric, count: width)
        if let text = header.keys["feature_infos"] {
            let list = text.split(separator: " ")
            guard list.count == width else {
                throw .invalidModel("key 'feature_infos' has \(list.count) entries, the model has \(width) features")
            }
            for (i, info) in list.enumerated() where !info.hasPrefix("[") && info != "none" { types[i] = .categorical }
        }
        return zip(names, types).map { FeatureSpec(name: $0, type: $1) }
    }
}
