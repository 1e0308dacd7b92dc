import Foundation
import Testing
@testable import MregML

@Suite struct SmokeTests {
    @Test(arguments: Algorithm.allCases.filter { $0 != .linear })
    func penguins(_ algorithm: Algorithm) throws {
        let start = Date()
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: algorithm))
        print(algorithm, outcome.metrics, Date().timeIntervalSince(start), outcome.trials[0].iterations as Any)
    }
}
