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

/// Columnar prediction input: one column per model feature, in the model's feature order.
public struct ModelInput: Sendable, Equatable {
    /// One column per model feature, in `Model.features` order.
    public var columns: [FeatureColumn]
    /// Rows to predict; columns shorter than this read as missing.
    public var rowCount: Int

    /// Input of `rowCount` rows.
    public init(columns: [FeatureColumn], rowCount: Int) {
        self.columns = columns
        self.rowCount = rowCount
    }
}

/// Model outputs for a batch of rows.
///
/// Classification fills `labels`, `classIndices` and `probabilities`; regression fills `values`.
/// `probabilities` is flat and row-major: row `i` is `probabilities[i * classCount ..< (i + 1) * classCount]`,
/// columns in the order of `Model.classes`.
public struct Predictions: Sendable, Equatable {
    /// Rows predicted.
    public var rowCount: Int
    /// Predicted class per row (the most probable; ties to the earlier class).
    public var labels: [String]?
    /// Index into `Model.classes` per row.
    public var classIndices: [Int]?
    /// Predicted value per row (regression).
    public var values: [Double]?
    /// Row-major `rowCount x classCount` class probabilities.
    public var probabilities: [Double]?
    /// Classes per probability row (0 for regression).
    public var classCount: Int

    /// Predictions built by hand, e.g. in tests.
    public init(rowCount: Int, labels: [String]? = nil, classIndices: [Int]? = nil, values: [Double]? = nil,
                probabilities: [Double]? = nil, classCount: Int = 0) {
        self.rowCount = rowCount
        self.labels = labels
        self.classIndices = classIndices
        self.values = values
        self.probabilities = probabilities
        self.classCount = classCount
    }

    /// The class probabilities of one row, or nil for regression or a row out of range.
    public func probabilities(row: Int) -> ArraySlice<Double>? {
        guard let probabilities, classCount > 0, row >= 0, row < rowCount else { return nil }
        return probabilities[row * classCount..<(row + 1) * classCount]
    }
}
