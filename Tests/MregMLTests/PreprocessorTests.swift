import Foundation
import Testing
@testable import MregML

@Suite struct PreprocessorTests {
    @Test func imputesStandardizesAndOneHotEncodes() {
        let features = [FeatureSpec(name: "n", type: .numeric), FeatureSpec(name: "c", type: .categorical)]
        let pre = Preprocessor.fit(features: features, columns: [.numeric([1, 3, .nan, 5]), .categorical(["b", "a", "b", nil])])
        // Median 3 fills the gap: values 1,3,3,5 -> mean 3, population std 1.4142...
        #expect(pre.steps[0] == .numeric(fill: 3, mean: 3, scale: 2.0.squareRoot()))
        #expect(pre.steps[1] == .categorical(categories: ["a", "b"], fill: "b"))
        #expect(pre.width == 4)
        let m = pre.transform([.numeric([5, .nan]), .categorical(["a", "z"])], rowCount: 2)
        let s = 2.0.squareRoot()
        #expect(m.values == [2 / s, 1, 0, 0, 0, 0, 0, 1])
    }

    @Test func constantAndEmptyColumns() {
        let pre = Preprocessor.fit(features: [FeatureSpec(name: "n", type: .numeric), FeatureSpec(name: "c", type: .categorical)],
                                   columns: [.numeric([.nan, .nan]), .categorical([nil, nil])])
        #expect(pre.steps[0] == .numeric(fill: 0, mean: 0, scale: 1))
        #expect(pre.steps[1] == .categorical(categories: [], fill: nil))
        #expect(pre.transform([.numeric([2]), .categorical(["x"])], rowCount: 1).values == [2, 1])
    }

    @Test func rareCategoriesShareTheUnknownColumn() {
        var labels = [String?]()
        for i in 0..<150 { labels += Array(repeating: "c\(i)", count: i < 100 ? 2 : 1) }
        let step = Preprocessor.fitCategorical(labels)
        guard case .categorical(let categories, _) = step else { Issue.record("expected categorical"); return }
        #expect(categories.count == Preprocessor.maxCategories)
        #expect(!categories.contains("c120"))
    }
}
