import Foundation

/// Everything that can go wrong while reading data, training, loading a model or predicting.
///
/// Messages are written for a terminal: lowercase, one line, no trailing period, the subject quoted.
public enum MLError: Error, Equatable, CustomStringConvertible {
    /// A data file could not be read from disk.
    case unreadableFile(path: String, reason: String)
    /// An output file or stream could not be written.
    case unwritableFile(path: String, reason: String)
    /// The CSV file has no bytes besides a byte-order mark or blank lines.
    case emptyFile(source: String)
    /// The CSV file has a header row but no data rows.
    case noDataRows(source: String)
    /// A data row has a different number of fields than the header.
    case raggedRow(source: String, line: Int, fields: Int, expected: Int)
    /// A quoted field runs to the end of the file.
    case unterminatedQuote(source: String, line: Int, column: Int)
    /// Two header fields have the same name (positions are 1-based).
    case duplicateColumn(source: String, name: String, first: Int, second: Int)
    /// A column the request or the model needs is not in the table.
    case missingColumn(source: String, name: String, available: [String])
    /// A cell of a numeric column does not read as a number.
    case notANumber(source: String, line: Int, column: String, value: String)
    /// A column that is numeric except for a few cells, whose type mreg will not guess.
    case ambiguousColumn(source: String, column: String, cells: [String], count: Int, values: Int)
    /// The target column has a single distinct value.
    case constantTarget(source: String, target: String, value: String)
    /// Every value of the target column is missing.
    case emptyTarget(source: String, target: String)
    /// No columns are left to learn from once the target is set aside.
    case noFeatures(source: String, target: String)
    /// Too few usable rows to split and train.
    case tooFewRows(source: String, rows: Int, needed: Int)
    /// A training or evaluation option is out of range; the text says which.
    case invalidOption(String)
    /// A `--param` key the algorithm does not have.
    case unknownParameter(algorithm: String, name: String, known: [String])
    /// A `--param` value that does not parse or is out of range.
    case invalidParameter(name: String, value: String, expected: String)
    /// The algorithm cannot learn this kind of task.
    case incompatibleAlgorithm(algorithm: String, task: String)
    /// A model artifact that is malformed, inconsistent or from an unknown schema.
    case invalidModel(String)
    /// Prediction input whose shape does not fit the model.
    case invalidInput(String)
    /// A number too large in magnitude to train on (sums and squares of it would overflow).
    case numberTooLarge(source: String, line: Int, column: String, value: String, limit: Double)
    /// A CSV line longer than the limit, in bytes.
    case lineTooLong(source: String, line: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read '\(path)': \(reason)"
        case .unwritableFile(let path, let reason):
            return "cannot write '\(path)': \(reason)"
        case .emptyFile(let source):
            return "\(source): file is empty"
        case .noDataRows(let source):
            return "\(source): has a header but no data rows"
        case .raggedRow(let source, let line, let fields, let expected):
            return "\(source): line \(line) has \(fields) field\(fields == 1 ? "" : "s"), expected \(expected)"
        case .unterminatedQuote(let source, let line, let column):
            return "\(source): line \(line), column \(column): quoted field is never closed"
        case .duplicateColumn(let source, let name, let first, let second):
            return "\(source): column name '\(name)' appears twice (columns \(first) and \(second))"
        case .ambiguousColumn(let source, let column, let cells, let count, let values):
            let shown = cells.joined(separator: ", ")
            return "\(source): column '\(column)' is numeric except for \(count) of \(values) cells (\(shown)\(count > cells.count ? ", ..." : "")); "
                + "name its missing-value spelling (--na-value TOKEN) or declare its type (features in model.yaml, or --feature-type \(column)=categorical)"
        case .missingColumn(let source, let name, let available):
            let shown = available.prefix(20).map { "'\($0)'" }.joined(separator: ", ")
            let more = available.count > 20 ? ", ..." : ""
            return "\(source): no column '\(name)' (columns: \(shown)\(more))"
        case .notANumber(let source, let line, let column, let value):
            return "\(source): line \(line), column '\(column)': '\(MLError.clip(value))' is not a number"
        case .constantTarget(let source, let target, let value):
            return "\(source): target '\(target)' has the single value '\(MLError.clip(value))', nothing to learn"
        case .emptyTarget(let source, let target):
            return "\(source): target '\(target)' has no values"
        case .noFeatures(let source, let target):
            return "\(source): no feature columns besides target '\(target)'"
        case .tooFewRows(let source, let rows, let needed):
            return "\(source): \(rows) usable row\(rows == 1 ? "" : "s"), need at least \(needed)"
        case .invalidOption(let message):
            return message
        case .unknownParameter(let algorithm, let name, let known):
            return "unknown parameter '\(name)' for algorithm '\(algorithm)' (known: \(known.joined(separator: ", ")))"
        case .invalidParameter(let name, let value, let expected):
            return "parameter '\(name)' has invalid value '\(MLError.clip(value))', expected \(expected)"
        case .incompatibleAlgorithm(let algorithm, let task):
            return "algorithm '\(algorithm)' does not do \(task)"
        case .invalidModel(let reason):
            return "invalid model artifact: \(reason)"
        case .invalidInput(let reason):
            return "invalid prediction input: \(reason)"
        case .numberTooLarge(let source, let line, let column, let value, let limit):
            return "\(source): line \(line), column '\(column)': '\(MLError.clip(value))' is too large to train on (magnitude at most \(limit))"
        case .lineTooLong(let source, let line, let limit):
            return "\(source): line \(line) is longer than \(limit) bytes"
        }
    }

    /// Long or multi-line cell values are shortened so a message stays on one line.
    static func clip(_ value: String) -> String {
        var text = value.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        if text.count > 40 { text = String(text.prefix(37)) + "..." }
        return text
    }
}
