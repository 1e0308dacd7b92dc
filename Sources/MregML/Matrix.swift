import Foundation

/// A dense row-major matrix of doubles.
struct Matrix: Sendable {
    var rows: Int
    var cols: Int
    var values: [Double]

    init(rows: Int, cols: Int, values: [Double]) {
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    init(rows: Int, cols: Int) {
        self.init(rows: rows, cols: cols, values: [Double](repeating: 0, count: rows * cols))
    }
}
