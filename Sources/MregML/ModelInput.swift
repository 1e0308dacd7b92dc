import Foundation

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
