import Foundation
import Testing
@testable import MregML

@Suite struct StatisticsTests {
    @Test func radixSortMatchesTheStandardSort() {
        var rng = SeededGenerator(seed: 21)
        for count in [0, 1, 5, 300, 5000] {
            var values = (0..<count).map { _ in (rng.unit() - 0.5) * Foundation.pow(10, Double(rng.below(12)) - 4) }
            if count > 10 { values += [.nan, .infinity, -.infinity, 0, -0.0, 3, 3, -1e300, .leastNonzeroMagnitude] }
            #expect(Statistics.sortedFinite(values) == values.filter(\.isFinite).sorted())
        }
        #expect(Statistics.sortedFinite(Array(repeating: 2.5, count: 1000)) == Array(repeating: 2.5, count: 1000))
    }

    @Test func quantilesInterpolateLinearly() {
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0.5) == 2.5)
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0) == 1)
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 1) == 4)
        #expect(Statistics.quantile(sorted: [7], 0.3) == 7)
        #expect(Statistics.quantile(sorted: [], 0.3).isNaN)
    }

    @Test func histogramBinsEqualWidths() {
        let h = Statistics.histogram(sorted: [0, 1, 2, 3, 4], bins: 4)
        #expect(h.edges == [0, 1, 2, 3, 4])
        #expect(h.counts == [1, 1, 1, 2])
        #expect(Statistics.histogram(sorted: [5, 5], bins: 4).counts == [2])
    }
}
