import Foundation

/// Metrics of a model on a labelled table.
public struct Evaluation: Sendable, Equatable {
    /// Metric name -> value (see `Metrics`).
    public var metrics: [String: Double]
    /// Rows true class, columns predicted class, in the order of `classes`; nil for regression.
    public var confusionMatrix: [[Int]]?
    /// The model's classes, then any label of the table the model does not know (sorted); nil for regression.
    public var classes: [String]?
    /// Rows evaluated (rows with a missing target are skipped).
    public var rows: Int
    /// Rows skipped because their target is missing.
    public var skippedRows: Int
}

/// Predicts every row of `table` and scores the predictions against its target column.
public func evaluate(_ model: Model, on table: Table) throws(MLError) -> Evaluation {
    try evaluate(model, target: model.target, on: table)
}

/// Scores a model of any format against the `target` column of `table` (foreign formats name no target).
///
/// Class labels are compared as text with `classes` (XGBoost and LightGBM classes are `0`, `1`, ...).
public func evaluate(_ model: any Scorer, target: String, on table: Table) throws(MLError) -> Evaluation {
    guard let t = table.columnIndex(target) else {
        throw .missingColumn(source: table.source, name: target, available: table.columnNames)
    }
    let input = try model.input(from: table)
    let kept = (0..<table.rowCount).filter { table.columns[t].lengths[$0] >= 0 }
    switch model.task {
    case .regression:
        let truth = try table.numbers(column: t)
        let predictions = model.predict(input).values ?? []
        let metrics = Metrics.regression(truth: kept.map { truth[$0] }, predicted: kept.map { predictions[$0] })
        return Evaluation(metrics: metrics, confusionMatrix: nil, classes: nil, rows: kept.count,
                          skippedRows: table.rowCount - kept.count)
    case .classification:
        let classes = model.classes ?? []
        let labels = table.strings(column: t)
        var index = [String: Int]()
        for (i, c) in classes.enumerated() { index[c] = i }
        let unknown = Set(kept.compactMap { labels[$0] }.filter { index[$0] == nil }).sorted(by: utf8Less)
        var extended = classes
        for label in unknown {
            index[label] = extended.count
            extended.append(label)
        }
        let predictions = model.predict(input)
        let predicted = predictions.classIndices ?? []
        let k = classes.count
        var probabilities = [Double]()
        probabilities.reserveCapacity(kept.count * k)
        if let all = predictions.probabilities {
            for r in kept { probabilities += all[r * k..<(r + 1) * k] }
        }
        let report = Metrics.classification(
            truth: kept.map { index[labels[$0]!]! }, predicted: kept.map { predicted[$0] },
            probabilities: probabilities, classCount: k)
        return Evaluation(metrics: report.metrics, confusionMatrix: report.confusionMatrix, classes: extended,
                          rows: kept.count, skippedRows: table.rowCount - kept.count)
    }
}
