import Foundation

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
