import Foundation

/// Converts prediction input into row-major blocks of numbers for tree ensembles.
///
/// Numeric columns pass through (non-finite values are missing, NaN); categorical columns are read as
/// numbers (category codes). Where `categories` has a label-to-code table for a feature, every value is
/// looked up in it by its text instead. Anything unreadable or unknown is missing. Columns shorter than the row count read as missing.
struct FeatureBlock {
    let width: Int
    /// Per feature, a label-to-code table for categorical input given as text, or nil.
    let categories: [[String: Double]?]

    init(width: Int, categories: [[String: Double]?]? = nil) {
        self.width = width
        self.categories = categories ?? Array(repeating: nil, count: width)
    }

    /// Fills `out[(r - start) * width + j]` for rows `start ..< start + count`.
    func fill<T: BinaryFloatingPoint>(_ input: ModelInput, start: Int, count: Int, into out: UnsafeMutablePointer<T>) {
        for j in 0..<width {
            let column = j < input.columns.count ? input.columns[j] : .numeric([])
            switch column {
            case .numeric(let values) where categories[j] != nil:
                // Codes come from the file's table, so a number is looked up by its text (7 -> "7").
                let table = categories[j]!
                for r in 0..<count {
                    let i = start + r
                    let x = i < values.count && values[i].isFinite ? table[FeatureColumn.categoryText(values[i])] ?? .nan : .nan
                    out[r * width + j] = T(x)
                }
            case .numeric(let values):
                values.withUnsafeBufferPointer { v in
                    for r in 0..<count {
                        let i = start + r
                        let x = i < v.count ? v[i] : .nan
                        out[r * width + j] = x.isFinite ? T(x) : .nan
                    }
                }
            case .categorical(let values):
                let table = categories[j]
                for r in 0..<count {
                    let i = start + r
                    var x = Double.nan
                    if i < values.count, let text = values[i] {
                        if let table { x = table[text] ?? .nan } else { x = NumberParser.parse(text) ?? .nan }
                    }
                    out[r * width + j] = x.isFinite ? T(x) : .nan
                }
            }
        }
    }
}
