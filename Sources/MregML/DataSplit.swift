import Foundation

/// Row indices of the train, validation and test parts of a data set, each in ascending order.
public struct DataSplit: Sendable, Equatable {
    /// Rows the model is fitted on (and preprocessing and the baseline are computed from).
    public var train: [Int]
    /// Rows for early stopping and choosing among trials.
    public var validation: [Int]
    /// Rows for the final metrics only.
    public var test: [Int]

    /// A split from explicit row lists.
    public init(train: [Int], validation: [Int], test: [Int]) {
        self.train = train
        self.validation = validation
        self.test = test
    }

    /// Sizes keyed `train`, `validation`, `test`.
    public var sizes: [String: Int] {
        ["train": train.count, "validation": validation.count, "test": test.count]
    }

    /// Splits `0..<count` by seed: `holdout` of the rows go to test, then `holdout` of the rest to validation.
    ///
    /// With `strata` (a class index per row) each class is shuffled on its own and shares are allotted
    /// by largest remainder, so every part keeps the class proportions as closely as whole rows allow
    /// and every class keeps at least one training row. The shuffle is xoshiro256** seeded with `seed`.
    public static func make(count: Int, holdout: Double, seed: UInt64, strata: [Int]? = nil) -> DataSplit {
        var groups: [[Int]]
        if let strata, strata.count == count {
            let classes = (strata.max() ?? -1) + 1
            groups = Array(repeating: [], count: max(classes, 0))
            for (row, k) in strata.enumerated() where k >= 0 { groups[k].append(row) }
        } else {
            groups = [Array(0..<count)]
        }
        var rng = SeededGenerator(seed: seed)
        for g in groups.indices { rng.shuffle(&groups[g]) }

        let sizes = groups.map(\.count)
        let testCounts = allot(sizes: sizes, fraction: holdout, keep: 1)
        let remaining = zip(sizes, testCounts).map { $0 - $1 }
        let validationCounts = allot(sizes: remaining, fraction: holdout, keep: 1)

        var split = DataSplit(train: [], validation: [], test: [])
        for g in groups.indices {
            let rows = groups[g]
            let t = testCounts[g], v = validationCounts[g]
            split.test += rows[0..<t]
            split.validation += rows[t..<t + v]
            split.train += rows[(t + v)...]
        }
        split.train.sort()
        split.validation.sort()
        split.test.sort()
        return split
    }

    /// Shares of `round(total * fraction)` rows over groups by largest remainder (ties to the lower
    /// group), never taking a group below `keep` rows.
    static func allot(sizes: [Int], fraction: Double, keep: Int) -> [Int] {
        let total = sizes.reduce(0, +)
        let cap = sizes.map { max(0, $0 - keep) }
        var wanted = min(Int((Double(total) * fraction).rounded()), cap.reduce(0, +))
        var counts = [Int](repeating: 0, count: sizes.count)
        var remainders = [(Double, Int)]()
        for g in sizes.indices {
            let exact = Double(sizes[g]) * fraction
            counts[g] = min(Int(exact.rounded(.down)), cap[g])
            wanted -= counts[g]
            remainders.append((exact - Double(counts[g]), g))
        }
        remainders.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        // Hand out the rest one row at a time, largest remainder first, cycling while rows remain.
        while wanted > 0 {
            var gave = false
            for (_, g) in remainders where wanted > 0 && counts[g] < cap[g] {
                counts[g] += 1
                wanted -= 1
                gave = true
            }
            if !gave { break }
        }
        return counts
    }
}
