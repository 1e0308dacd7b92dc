import Foundation

/// One regression tree in flat arrays; node 0 is the root and children always come after their parent.
struct RegressionTree: Sendable, Equatable {
    /// Which model output the tree adds to (a class for multiclass, else 0).
    var output: Int
    /// Input column tested at each node, -1 at leaves.
    var feature: [Int32]
    /// Go left when `x <= threshold`.
    var threshold: [Double]
    var left: [Int32]
    var right: [Int32]
    /// Leaf values (learning rate included); 0 at inner nodes.
    var value: [Double]

    @inline(__always)
    func predict(_ row: UnsafePointer<Double>) -> Double {
        var node = 0
        while true {
            let f = Int(feature[node])
            if f < 0 { return value[node] }
            node = Int(row[f] <= threshold[node] ? left[node] : right[node])
        }
    }
}
