import Foundation

/// What a network or boosted ensemble learns to predict during training.
enum TrainingTargets {
    /// Class indices in `0..<count`.
    case classes([Int], count: Int)
    /// Real values.
    case values([Double])

    var count: Int {
        switch self {
        case .classes(let y, _): return y.count
        case .values(let y): return y.count
        }
    }
}
