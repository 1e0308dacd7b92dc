import Foundation

/// How a feature column is read: as numbers or as category labels.
public enum FeatureType: String, Sendable, Codable, CaseIterable {
    case numeric, categorical
}

/// One input column of a model: its name and how it is read.
public struct FeatureSpec: Sendable, Equatable {
    /// Column name in the CSV header.
    public var name: String
    /// How the column is read.
    public var type: FeatureType

    /// A feature of the given name and type.
    public init(name: String, type: FeatureType) {
        self.name = name
        self.type = type
    }
}

/// What a model predicts: a class label or a number.
public enum Task: String, Sendable, CaseIterable {
    case classification, regression
}

/// The learning algorithms MregML implements.
public enum Algorithm: String, Sendable, CaseIterable {
    case logistic, linear, mlp, gbdt

    /// The algorithm used when the caller names none.
    public static func defaultAlgorithm(for task: Task) -> Algorithm {
        task == .classification ? .logistic : .linear
    }

    /// Whether the algorithm can learn the task.
    public func supports(_ task: Task) -> Bool {
        switch self {
        case .logistic: return task == .classification
        case .linear: return task == .regression
        case .mlp, .gbdt: return true
        }
    }
}
