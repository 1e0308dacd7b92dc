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
