import Foundation
import Testing
@testable import MregML

@Suite struct SplitTests {
    @Test func generatorIsReproducibleAndInRange() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<5).map { _ in a.next() }
        #expect(xs == (0..<5).map { _ in b.next() })
        #expect(xs != (0..<5).map { _ in c.next() })
        for bound in [1, 2, 3, 7, 1000] {
            for _ in 0..<200 { #expect((0..<bound).contains(a.below(bound))) }
        }
        for _ in 0..<200 {
            let u = a.unit()
            #expect(u >= 0 && u < 1)
        }
        var items = Array(0..<50)
        a.shuffle(&items)
        #expect(items.sorted() == Array(0..<50))
        #expect(items != Array(0..<50))
    }

    @Test func sizesFollowTheHoldout() {
        let split = DataSplit.make(count: 100, holdout: 0.2, seed: 1)
        #expect(split.test.count == 20)
        #expect(split.validation.count == 16)
        #expect(split.train.count == 64)
        #expect((split.train + split.validation + split.test).sorted() == Array(0..<100))
        #expect(split.train == split.train.sorted())
        #expect(split.sizes == ["train": 64, "validation": 16, "test": 20])
    }

    @Test func sameSeedSameSplitOtherSeedOtherSplit() {
        let a = DataSplit.make(count: 500, holdout: 0.25, seed: 9)
        #expect(a == DataSplit.make(count: 500, holdout: 0.25, seed: 9))
        #expect(a != DataSplit.make(count: 500, holdout: 0.25, seed: 10))
    }

    @Test func stratifiedKeepsClassShares() {
        let labels = Array(repeating: 0, count: 60) + Array(repeating: 1, count: 40)
        let split = DataSplit.make(count: 100, holdout: 0.2, seed: 5, strata: labels)
        func count(_ rows: [Int], _ k: Int) -> Int { rows.filter { labels[$0] == k }.count }
        #expect(count(split.test, 0) == 12 && count(split.test, 1) == 8)
        // 48 and 32 remain; 16 validation rows: 9.6 -> 10 and 6.4 -> 6 by largest remainder.
        #expect(count(split.validation, 0) == 10 && count(split.validation, 1) == 6)
        #expect(count(split.train, 0) == 38 && count(split.train, 1) == 26)
    }

    @Test func rareClassesKeepATrainingRow() {
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2]
        for seed in 0..<20 {
            let split = DataSplit.make(count: labels.count, holdout: 0.5, seed: UInt64(seed), strata: labels)
            for k in 0..<3 { #expect(split.train.contains { labels[$0] == k }) }
        }
    }

    @Test func allotUsesLargestRemainder() {
        // 7.5 rounds to 8 rows: 2 each by floor, the 2 left go to the first groups (equal remainders).
        #expect(DataSplit.allot(sizes: [5, 5, 5], fraction: 0.5, keep: 1) == [3, 3, 2])
        #expect(DataSplit.allot(sizes: [1, 1], fraction: 0.9, keep: 1) == [0, 0])
    }
}
