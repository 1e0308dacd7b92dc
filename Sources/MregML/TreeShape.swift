import Foundation

/// Structural checks shared by every tree format, run once at load so scoring is a bounded walk.
enum TreeShape {
    /// Checks that `left`/`right` (-1 at both for a leaf) form one binary tree rooted at node 0.
    ///
    /// Every child index must be in range and every node reached exactly once from the root; a cycle,
    /// a shared child or an unreachable node is refused. A walk from the root therefore takes at most
    /// `left.count` steps before it reaches a leaf.
    static func validate(left: [Int32], right: [Int32], path: String) throws(MLError) {
        let n = left.count
        guard n >= 1 else { throw .invalidModel("'\(path)' has no nodes") }
        guard right.count == n else { throw .invalidModel("'\(path)' has \(n) left children but \(right.count) right children") }
        guard n <= ModelLimits.maxNodesPerTree else {
            throw .invalidModel("'\(path)' has \(n) nodes, more than the limit of \(ModelLimits.maxNodesPerTree)")
        }
        var seen = [Bool](repeating: false, count: n)
        seen[0] = true
        var reached = 1
        var stack: [Int] = [0]
        while let node = stack.popLast() {
            let l = Int(left[node]), r = Int(right[node])
            if l == -1 && r == -1 { continue }
            for child in [l, r] {
                guard child >= 0, child < n else {
                    throw .invalidModel("'\(path)' node \(node) has child \(child), outside 0...\(n - 1)")
                }
                guard !seen[child] else {
                    throw .invalidModel("'\(path)' node \(node) leads back to node \(child) (a cycle or a shared child)")
                }
                seen[child] = true
                reached += 1
                stack.append(child)
            }
        }
        guard reached < n, let orphan = seen.firstIndex(of: false) else { return }
        throw .invalidModel("'\(path)' node \(orphan) is not reachable from the root")
    }
}

/// Converts prediction input into row-major blocks of numbers for tree ensembles.
///
/// Numeric columns pass through (non-finite values are missing, NaN); categorical columns are read as
/// numbers (category codes). Where `categories` has a label-to-code table for a feature, every value is
/// looked up in it by its text instead. Anything unreadable or unknown is missing. Columns shorter than the row count read as missing.
struct FeatureBlock {
    let width: Int
    /// Per feature, a label-to-code table for categorical input given as text, or nil.
    let categories: [[String: Double]?]

    init(width: Int, categories: [[String: Double]?]? = nil) {
        self.width = width
        self.categories = categories ?? Array(repeating: nil, count: width)
    }

    /// Fills `out[(r - start) * width + j]` for rows `start ..< start + count`.
    func fill<T: BinaryFloatingPoint>(_ input: ModelInput, start: Int, count: Int, into out: UnsafeMutablePointer<T>) {
        for j in 0..<width {
            let column = j < input.columns.count ? input.columns[j] : .numeric([])
            switch column {
            case .numeric(let values) where categories[j] != nil:
                // Codes come from the file's table, so a number is looked up by its text (7 -> "7").
                let table = categories[j]!
                for r in 0..<count {
                    let i = start + r
                    let x = i < values.count && values[i].isFinite ? table[FeatureColumn.categoryText(values[i])] ?? .nan : .nan
                    out[r * width + j] = T(x)
                }
            case .numeric(let values):
                values.withUnsafeBufferPointer { v in
                    for r in 0..<count {
                        let i = start + r
                        let x = i < v.count ? v[i] : .nan
                        out[r * width + j] = x.isFinite ? T(x) : .nan
                    }
                }
            case .categorical(let values):
                let table = categories[j]
                for r in 0..<count {
                    let i = start + r
                    var x = Double.nan
                    if i < values.count, let text = values[i] {
                        if let table { x = table[text] ?? .nan } else { x = NumberParser.parse(text) ?? .nan }
                    }
                    out[r * width + j] = x.isFinite ? T(x) : .nan
                }
            }
        }
    }
}
