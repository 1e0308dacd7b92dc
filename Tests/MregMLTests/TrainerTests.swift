import Foundation
import MregCore
import Testing
@testable import MregML

@Suite struct TrainerTests {
    /// Small budgets keep the debug-mode suite fast; the parity script runs the defaults in release mode.
    static let quick: [Algorithm: [String: String]] = [
        .logistic: [:],
        .linear: [:],
        .mlp: ["max_epochs": "60", "hidden_layer_sizes": "32"],
        .gbdt: ["max_iter": "30"],
    ]

    @Test(arguments: [Algorithm.logistic, .mlp, .gbdt])
    func everyClassifierLearnsPenguins(_ algorithm: Algorithm) throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: algorithm,
                                             params: Self.quick[algorithm]!))
        #expect(outcome.task == .classification)
        #expect(outcome.classes == ["Adelie", "Chinstrap", "Gentoo"])
        #expect(outcome.splitSizes == ["train": 220, "validation": 55, "test": 69])
        let accuracy = try #require(outcome.metrics["test"]?["accuracy"])
        #expect(accuracy >= 0.93, "\(algorithm) test accuracy \(accuracy)")
        #expect(outcome.metrics["validation"]?["accuracy"] != nil)
        #expect(outcome.testConfusionMatrix?.joined().reduce(0, +) == 69)
        #expect(outcome.features.map(\.name) == ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"])
        #expect(outcome.features.map(\.type) == [.categorical, .numeric, .numeric, .numeric, .numeric, .categorical, .numeric])
    }

    @Test func defaultsFollowTheTask() throws {
        let classification = try train(TrainRequest(table: Fixtures.penguins, target: "species"))
        #expect(classification.algorithm == .logistic)
        let regression = try train(TrainRequest(table: Fixtures.regressionTable(), target: "y"))
        #expect(regression.task == .regression)
        #expect(regression.algorithm == .linear)
        #expect(regression.classes == nil)
        #expect(try #require(regression.metrics["test"]?["r2"]) > 0.99)
    }

    @Test(arguments: [Algorithm.linear, .mlp, .gbdt])
    func everyRegressorFitsALinearSignal(_ algorithm: Algorithm) throws {
        var params = Self.quick[algorithm]!
        if algorithm == .mlp { params["learning_rate"] = "0.01" }
        let outcome = try train(TrainRequest(table: Fixtures.regressionTable(rows: 400), target: "y", algorithm: algorithm,
                                             params: params))
        let r2 = try #require(outcome.metrics["test"]?["r2"])
        #expect(r2 > (algorithm == .gbdt ? 0.85 : 0.95), "\(algorithm) R² \(r2)")
        #expect(outcome.metrics["test"]?["rmse"] != nil)
        #expect(outcome.metrics["test"]?["mae"] != nil)
    }

    @Test func penguinBodyMassAsRegression() throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "body_mass_g", algorithm: .gbdt, params: ["max_iter": "40"]))
        #expect(outcome.task == .regression)
        #expect(outcome.droppedRows == 2)
        #expect(try #require(outcome.metrics["test"]?["r2"]) > 0.7)
    }

    @Test func sameInputsGiveByteIdenticalArtifacts() throws {
        for algorithm in [Algorithm.logistic, .mlp, .gbdt] {
            let request = TrainRequest(table: Fixtures.penguins, target: "species", algorithm: algorithm, params: Self.quick[algorithm]!, seed: 7)
            let a = try train(request), b = try train(request)
            #expect(a.artifact.encoded() == b.artifact.encoded(), "\(algorithm)")
            #expect(a.baseline.encoded() == b.baseline.encoded())
            var other = request
            other.seed = 8
            #expect(try train(other).artifact.encoded() != a.artifact.encoded(), "\(algorithm)")
        }
    }

    @Test func inferTaskRule() throws {
        let integers = try Fixtures.csv("x,y\n" + (0..<30).map { "\($0),\($0 % 3)" }.joined(separator: "\n"))
        #expect(try train(TrainRequest(table: integers, target: "y")).task == .classification)
        let many = try Fixtures.csv("x,y\n" + (0..<30).map { "\($0),\($0 * 2)" }.joined(separator: "\n"))
        #expect(try train(TrainRequest(table: many, target: "y")).task == .regression)
        let fractional = try Fixtures.csv("x,y\n" + (0..<30).map { "\($0),\(Double($0 % 2) + 0.5)" }.joined(separator: "\n"))
        #expect(try train(TrainRequest(table: fractional, target: "y")).task == .regression)
        let numericClasses = try train(TrainRequest(table: integers, target: "y", task: .classification))
        #expect(numericClasses.classes == ["0", "1", "2"])
    }

    @Test func classesSortNumericallyWhenAllAreNumbers() {
        #expect(Trainer.sortClasses(["10", "2", "1"]) == ["1", "2", "10"])
        #expect(Trainer.sortClasses(["b", "B", "a", "10", "2"]) == ["10", "2", "B", "a", "b"])
    }

    @Test func featureTypeOverridesAndFeatureSelection() throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species", featureTypes: ["year": .categorical],
                                             features: ["bill_length_mm", "flipper_length_mm", "year"]))
        #expect(outcome.features == [
            FeatureSpec(name: "bill_length_mm", type: .numeric), FeatureSpec(name: "flipper_length_mm", type: .numeric),
            FeatureSpec(name: "year", type: .categorical),
        ])
        let steps = try #require(outcome.artifact["preprocessing"]?.arrayValue)
        #expect(steps[2]["categories"] == ["2007", "2008", "2009"])
    }

    @Test func requestErrorsAreClear() throws {
        let penguins = Fixtures.penguins
        let missing = failure { try train(TrainRequest(table: penguins, source: "penguins.csv", target: "specis")) }
        #expect(missing?.description.hasPrefix("penguins.csv: no column 'specis' (columns: 'species', 'island'") == true)

        let numericTarget = failure { try train(TrainRequest(table: penguins, source: "penguins.csv", target: "species", task: .regression)) }
        #expect(numericTarget == .notANumber(source: "penguins.csv", line: 2, column: "species", value: "Adelie"))
        #expect(numericTarget?.description == "penguins.csv: line 2, column 'species': 'Adelie' is not a number")

        let numericFeature = failure { try train(TrainRequest(table: penguins, target: "species", featureTypes: ["island": .numeric])) }
        #expect(numericFeature?.description == "penguins.csv: line 2, column 'island': 'Torgersen' is not a number")

        let constant = try Fixtures.csv("x,y\n1,a\n2,a\n3,a\n4,a\n5,a\n6,")
        #expect(failure { try train(TrainRequest(table: constant, target: "y")) } == .constantTarget(source: "test.csv", target: "y", value: "a"))
        let constantNumbers = try Fixtures.csv("x,y\n1,2.5\n2,2.5\n3,2.5\n4,2.5\n5,2.5")
        #expect(failure { try train(TrainRequest(table: constantNumbers, target: "y", task: .regression)) }
            == .constantTarget(source: "test.csv", target: "y", value: "2.5"))

        let ids = try Fixtures.csv("x,id\n" + (0..<1001).map { "1,id\($0)" }.joined(separator: "\n"))
        #expect(failure { try train(TrainRequest(table: ids, target: "id")) }?.description
            == "test.csv: target 'id' has 1001 distinct values, classification takes at most 1000 classes")
        let onlyTarget = try Fixtures.csv("y\na\nb\na\nb\na")
        #expect(failure { try train(TrainRequest(table: onlyTarget, target: "y")) } == .noFeatures(source: "test.csv", target: "y"))
        let empty = try Fixtures.csv("x,y\n1,\n2,NA")
        #expect(failure { try train(TrainRequest(table: empty, target: "y")) } == .emptyTarget(source: "test.csv", target: "y"))
        let tiny = try Fixtures.csv("x,y\n1,a\n2,b\n3,a")
        #expect(failure { try train(TrainRequest(table: tiny, target: "y")) } == .tooFewRows(source: "test.csv", rows: 3, needed: 5))

        #expect(failure { try train(TrainRequest(table: penguins, target: "species", algorithm: .linear)) }
            == .incompatibleAlgorithm(algorithm: "linear", task: "classification"))
        #expect(failure { try train(TrainRequest(table: penguins, target: "body_mass_g", algorithm: .logistic)) }?.description
            == "algorithm 'logistic' does not do regression")
        #expect(failure { try train(TrainRequest(table: penguins, target: "species", holdout: 1.5)) }?.description
            == "holdout must be in (0, 0.9], got 1.5")
        #expect(failure { try train(TrainRequest(table: penguins, target: "species", trials: 0)) }?.description
            == "trials must be in 1...10000, got 0")
        #expect(failure { try train(TrainRequest(table: penguins, target: "species", features: ["species"])) }?.description
            == "feature 'species' is the target")
    }

    @Test func parameterErrorsNameTheParameter() {
        let penguins = Fixtures.penguins
        let unknown = failure { try train(TrainRequest(table: penguins, target: "species", params: ["depth": "3"])) }
        #expect(unknown == .unknownParameter(algorithm: "logistic", name: "depth", known: ["C", "max_iter", "tol"]))
        #expect(unknown?.description == "unknown parameter 'depth' for algorithm 'logistic' (known: C, max_iter, tol)")
        let bad = failure { try train(TrainRequest(table: penguins, target: "species", params: ["C": "-1"])) }
        #expect(bad?.description == "parameter 'C' has invalid value '-1', expected a number in (0, 1000000]")
        let layers = failure { try train(TrainRequest(table: penguins, target: "species", algorithm: .mlp, params: ["hidden_layer_sizes": "8,8,8"])) }
        #expect(layers == .invalidParameter(name: "hidden_layer_sizes", value: "8,8,8",
                                            expected: "one or two layer sizes in 1...4096 separated by a comma, like 64 or 64,32"))
        let choice = failure { try train(TrainRequest(table: penguins, target: "species", algorithm: .gbdt, params: ["growth": "sideways"])) }
        #expect(choice?.description == "parameter 'growth' has invalid value 'sideways', expected one of leafwise, depthwise")
        #expect(failure { try Hyperparameters.parse(["max_iter": "2.5"], for: .gbdt) } != nil)
        #expect(failure { try Hyperparameters.parse(["early_stopping": "maybe"], for: .mlp) } != nil)
    }

    @Test func trialsSearchAndKeepTheBest() throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species", trials: 4))
        #expect(outcome.trials.count == 4)
        #expect(outcome.trials[0].params["C"] == 1)
        #expect(Set(outcome.trials.compactMap { $0.params["C"]?.doubleValue }).count == 4)
        let best = outcome.trials[outcome.bestTrial]
        #expect(outcome.trials.allSatisfy { ($0.validationMetrics["accuracy"] ?? 0) <= best.validationMetrics["accuracy"]! })
        #expect(outcome.params == best.params)
        #expect(outcome.metrics["validation"] == best.validationMetrics)
        #expect(outcome.artifact["params"] == .object(best.params))
        #expect(outcome.trials.allSatisfy { $0.seconds >= 0 })
    }

    @Test func trialsCoveringTheGridEnumerateIt() throws {
        let plan = Hyperparameters.plan(for: .logistic, fixed: [:], trials: 50, seed: 1)
        #expect(plan.count == 9)
        #expect(plan[0]["C"] == 1)
        #expect(Set(plan.compactMap { $0["C"]?.doubleValue }).count == 9)
        // Fixed parameters leave the search: C fixed means nothing is left to search for logistic.
        #expect(Hyperparameters.plan(for: .logistic, fixed: ["C": 0.5], trials: 5, seed: 1) == [["C": 0.5, "max_iter": 100, "tol": 1e-4]])
        let gbdt = Hyperparameters.plan(for: .gbdt, fixed: ["learning_rate": 0.2], trials: 6, seed: 3)
        #expect(gbdt.count == 6)
        #expect(gbdt.allSatisfy { $0["learning_rate"] == 0.2 })
        #expect(gbdt == Hyperparameters.plan(for: .gbdt, fixed: ["learning_rate": 0.2], trials: 6, seed: 3))
    }

    @Test func reportsProgress() throws {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var reports = [TrainProgress]()
        }
        let box = Box()
        _ = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .gbdt, params: ["max_iter": "5"], trials: 2,
                                   progress: { p in box.lock.withLock { box.reports.append(p) } }))
        #expect(box.reports.first?.message == "trial 1/2: training gbdt")
        #expect(box.reports.contains { $0.trial == 2 && $0.epoch == 5 && $0.epochs == 5 })
    }

    @Test func baselineDescribesTheTrainingRows() throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species"))
        let baseline = outcome.baseline
        #expect(baseline["schemaVersion"] == 1)
        #expect(baseline["format"] == "mreg-baseline")
        #expect(baseline["rows"] == 220)
        let features = try #require(baseline["features"]?.arrayValue)
        #expect(features.map { $0["name"]?.stringValue } == outcome.features.map(\.name))
        let bill = features[1]
        #expect(bill["type"] == "numeric")
        let count = try #require(bill["count"]?.intValue), missing = try #require(bill["missing"]?.intValue)
        #expect(count + missing == 220)
        #expect(bill["quantiles"]?.arrayValue?.count == 101)
        #expect(bill["quantiles"]?.arrayValue?.first == bill["min"])
        #expect(bill["quantiles"]?.arrayValue?.last == bill["max"])
        #expect(bill["percentiles"]?["p50"] == bill["quantiles"]?.arrayValue?[50])
        #expect(bill["percentiles"]?.objectValue?.count == 9)
        #expect(bill["histogram"]?["edges"]?.arrayValue?.count == 21)
        #expect(bill["histogram"]?["counts"]?.arrayValue?.compactMap(\.intValue).reduce(0, +) == count)
        let island = features[0]
        #expect(island["type"] == "categorical")
        #expect(island["categories"]?.objectValue?.values.compactMap(\.intValue).reduce(0, +) == 220)
        let target = try #require(baseline["target"])
        #expect(target["name"] == "species")
        #expect(Set(target["categories"]?.objectValue?.keys.map { $0 } ?? []) == ["Adelie", "Chinstrap", "Gentoo"])
    }

    @Test func baselineStatisticsByHand() {
        let numeric = Baseline.numeric(name: "x", values: [1, 2, 3, 4, .nan])
        #expect(numeric["count"] == 4)
        #expect(numeric["missing"] == 1)
        #expect(numeric["mean"] == 2.5)
        #expect(numeric["std"] == .number((5.0 / 3).squareRoot()))
        #expect(numeric["percentiles"]?["p25"] == 1.75)
        #expect(numeric["quantiles"]?.arrayValue?[10] == 1.3)
        let empty = Baseline.numeric(name: "x", values: [.nan])
        #expect(empty["mean"] == .null)
        #expect(empty["quantiles"] == [])
        let categorical = Baseline.categorical(name: "c", labels: ["a", nil, "b", "a"])
        #expect(categorical["categories"] == ["a": 2, "b": 1])
        #expect(categorical["missing"] == 1)
        #expect(categorical["distinct"] == 2)
    }

    @Test func parallelHistogramsGiveTheSameTreesAsSerial() {
        var rng = SeededGenerator(seed: 5)
        let rows = 3000, cols = 6
        let x = Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in rng.uniform(-1, 1) })
        let labels = (0..<rows).map { r in x.values[r * cols] + x.values[r * cols + 1] * x.values[r * cols + 2] > 0 ? 1 : (r % 7 == 0 ? 2 : 0) }
        func fit(_ threshold: Int) -> GBDTModel {
            var options = GBDTModel.Options()
            options.maxIterations = 5
            options.parallelThreshold = threshold
            return GBDTModel.fit(x, targets: .classes(labels, count: 3), validation: Matrix(rows: 0, cols: cols),
                                 validationTargets: .classes([], count: 3), options: options, seed: 1) { _, _ in }.model
        }
        let serial = fit(.max)
        #expect(fit(0) == serial)
        #expect(fit(0) == serial)
        #expect(serial.trees.count == 15)
    }

    @Test func depthwiseGrowthRespectsMaxDepth() throws {
        let outcome = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .gbdt,
                                             params: ["growth": "depthwise", "max_depth": "2", "max_iter": "5", "min_samples_leaf": "2"]))
        guard case .gbdt(let model) = outcome.model.estimator else { Issue.record("expected gbdt"); return }
        #expect(model.trees.count == 15)
        for tree in model.trees {
            var depth = [0: 0]
            for node in 0..<tree.feature.count where tree.feature[node] >= 0 {
                depth[Int(tree.left[node])] = depth[node]! + 1
                depth[Int(tree.right[node])] = depth[node]! + 1
            }
            #expect(depth.values.max()! <= 2)
            #expect(tree.feature.filter { $0 < 0 }.count <= 4)
        }
        #expect(try #require(outcome.metrics["test"]?["accuracy"]) > 0.9)
    }

    @Test func earlyStoppingEndsBeforeTheBudget() throws {
        let gbdt = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .gbdt,
                                          params: ["early_stopping": "true", "max_iter": "300", "learning_rate": "0.3"]))
        let iterations = try #require(gbdt.trials[0].iterations)
        #expect(iterations < 300)
        guard case .gbdt(let model) = gbdt.model.estimator else { Issue.record("expected gbdt"); return }
        #expect(model.trees.count == iterations * 3)
        let mlp = try train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .mlp,
                                         params: ["max_epochs": "400", "hidden_layer_sizes": "16", "learning_rate": "0.05", "patience": "5"]))
        #expect(try #require(mlp.trials[0].iterations) < 400)
    }
}
