import Foundation

extension Table {
    /// The table with every cell equal to one of `tokens` (after trimming) read as missing, as a
    /// CSV's own missing-value spelling (`n/a?`, `-`, `unknown`) asks; the columns it touched are
    /// classified again.
    public func markingMissing(_ tokens: Set<String>) -> Table {
        guard !tokens.isEmpty else { return self }
        var out = self
        for c in out.columns.indices {
            var store = out.columns[c]
            var touched = false
            for r in 0..<rowCount where store.lengths[r] >= 0 {
                guard let cell = string(row: r, column: c), tokens.contains(cell.trimmingCharacters(in: .whitespaces)) else { continue }
                store.lengths[r] = -1
                store.numbers[r] = .nan
                store.nonMissing -= 1
                touched = true
            }
            if touched {
                store.firstNonNumeric = -1
                for r in 0..<rowCount where store.lengths[r] >= 0 && store.numbers[r].isNaN {
                    store.firstNonNumeric = r
                    break
                }
                out.columns[c] = store
            }
        }
        return out
    }

    /// Refuses to guess a column's type when it is numeric except for a few cells (at most 10 % of
    /// its values): one stray `n/a?` would otherwise turn a numeric feature into a categorical one
    /// with a category per value. The error names the first offending cells and the ways on.
    func checkUnambiguous(column c: Int) throws(MLError) {
        let store = columns[c]
        guard store.firstNonNumeric >= 0, store.nonMissing > 0 else { return }
        var odd = [String]()
        var oddCount = 0
        for r in store.firstNonNumeric..<rowCount where store.lengths[r] >= 0 && store.numbers[r].isNaN {
            oddCount += 1
            if odd.count < 3 { odd.append("line \(line(ofRow: r)) '\(String((string(row: r, column: c) ?? "").prefix(40)))'") }
        }
        guard oddCount * 10 <= store.nonMissing else { return }
        throw .ambiguousColumn(source: source, column: columnNames[c], cells: odd, count: oddCount, values: store.nonMissing)
    }
}
