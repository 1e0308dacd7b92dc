import Foundation

/// One input column for prediction.
public enum FeatureColumn: Sendable, Equatable {
    /// Numbers; NaN (or any non-finite value) is missing.
    case numeric([Double])
    /// Labels; nil is missing.
    case categorical([String?])

    /// Number of cells.
    public var count: Int {
        switch self {
        case .numeric(let v): return v.count
        case .categorical(let v): return v.count
        }
    }

    /// The rows at `indices`, in that order.
    func subset(_ indices: [Int]) -> FeatureColumn {
        switch self {
        case .numeric(let v): return .numeric(indices.map { v[$0] })
        case .categorical(let v): return .categorical(indices.map { v[$0] })
        }
    }

    /// The label a number stands for when a categorical feature arrives as numbers: integral values
    /// without a fraction (`2007`), others in shortest round-trip form.
    static func categoryText(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 9.007_199_254_740_992e15 { return String(Int64(value)) }
        return value.description
    }
}
