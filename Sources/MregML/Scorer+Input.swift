import Foundation

extension Scorer {
    /// Refuses input whose shape does not fit: wrong column count, a column of the wrong length or type.
    public func check(_ input: ModelInput) throws(MLError) {
        guard input.rowCount >= 0 else { throw .invalidInput("row count \(input.rowCount) is negative") }
        guard input.columns.count == features.count else {
            throw .invalidInput("got \(input.columns.count) columns, the model has \(features.count) features")
        }
        for (spec, column) in zip(features, input.columns) {
            guard column.count == input.rowCount else {
                throw .invalidInput("column '\(spec.name)' has \(column.count) values, expected \(input.rowCount)")
            }
            if spec.type == .numeric, case .categorical(let values) = column {
                for v in values {
                    if let v, NumberParser.parse(v) == nil, !NumberParser.isMissing(v) {
                        throw .invalidInput("feature '\(spec.name)' is numeric but got '\(MLError.clip(v))'")
                    }
                }
            }
        }
    }

    /// Builds input from columns given by feature name; every feature must be present.
    public func input(named columns: [String: FeatureColumn], rowCount: Int) throws(MLError) -> ModelInput {
        var list = [FeatureColumn]()
        for spec in features {
            guard let column = columns[spec.name] else {
                throw .invalidInput("missing feature '\(spec.name)'")
            }
            list.append(column)
        }
        let input = ModelInput(columns: list, rowCount: rowCount)
        try check(input)
        return input
    }

    /// Builds input from a CSV table: every feature column must be present, numeric features must hold numbers.
    public func input(from table: Table) throws(MLError) -> ModelInput {
        var columns = [FeatureColumn]()
        for spec in features {
            guard let c = table.columnIndex(spec.name) else {
                throw .missingColumn(source: table.source, name: spec.name, available: table.columnNames)
            }
            switch spec.type {
            case .numeric: columns.append(.numeric(try table.numbers(column: c)))
            case .categorical: columns.append(.categorical(table.strings(column: c)))
            }
        }
        return ModelInput(columns: columns, rowCount: table.rowCount)
    }
}
