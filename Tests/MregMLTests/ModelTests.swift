import Foundation
import MregCore
import Testing
@testable import MregML

@Suite struct ModelTests {
    static let logistic = try! train(TrainRequest(table: Fixtures.penguins, target: "species"))
    static let gbdt = try! train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .gbdt, params: ["max_iter": "10"]))
    static let mlp = try! train(TrainRequest(table: Fixtures.penguins, target: "species", algorithm: .mlp,
                                             params: ["max_epochs": "20", "hidden_layer_sizes": "16,8"]))
    static let linear = try! train(TrainRequest(table: Fixtures.regressionTable(), target: "y"))
    static let mlpRegression = try! train(TrainRequest(table: Fixtures.regressionTable(), target: "y", algorithm: .mlp,
                                                       params: ["max_epochs": "10", "hidden_layer_sizes": "8"]))

    /// Replaces the value at a path of object keys (and array indexes as strings of digits).
    func edit(_ value: JSONValue, _ path: [String], _ replacement: JSONValue?) -> JSONValue {
        guard let key = path.first else { return replacement ?? .null }
        switch value {
        case .object(var fields):
            if path.count == 1, replacement == nil {
                fields[key] = nil
            } else {
                fields[key] = edit(fields[key] ?? .null, Array(path.dropFirst()), replacement)
            }
            return .object(fields)
        case .array(var items):
            let i = Int(key)!
            items[i] = edit(items[i], Array(path.dropFirst()), replacement)
            return .array(items)
        default:
            return value
        }
    }

    func loadError(_ artifact: JSONValue) -> String? {
        failure { try Model(artifact: artifact) }?.description
    }

    @Test(arguments: [0, 1, 2, 3, 4])
    func artifactsRoundTripWithIdenticalPredictions(_ which: Int) throws {
        let outcome = [Self.logistic, Self.gbdt, Self.mlp, Self.linear, Self.mlpRegression][which]
        let bytes = outcome.artifact.encoded(pretty: true)
        let loaded = try Model(data: bytes)
        #expect(loaded.artifact == outcome.artifact)
        #expect(loaded.features == outcome.features)
        #expect(loaded.classes == outcome.classes)
        let table = which < 3 ? Fixtures.penguins : Fixtures.regressionTable()
        let input = try loaded.input(from: table)
        #expect(loaded.predict(input) == outcome.model.predict(input))
    }

    @Test func artifactHeader() throws {
        let artifact = Self.logistic.artifact
        #expect(artifact["schemaVersion"] == 1)
        #expect(artifact["format"] == "mreg-model")
        #expect(artifact["task"] == "classification")
        #expect(artifact["algorithm"] == "logistic")
        #expect(artifact["target"] == "species")
        #expect(artifact["classes"] == ["Adelie", "Chinstrap", "Gentoo"])
        #expect(artifact["features"]?.arrayValue?.first == ["name": "island", "type": "categorical"])
        // island: 3 categories + unknown, sex: 2 + unknown, 5 numeric -> 12 inputs, one row per class.
        #expect(artifact["model"]?["coefficients"]?.arrayValue?.count == 3)
        #expect(artifact["model"]?["coefficients"]?.arrayValue?.first?.arrayValue?.count == 12)
        #expect(Self.linear.artifact["classes"] == nil)
    }

    @Test func predictionsAreConsistentRowByRow() throws {
        let model = Self.gbdt.model
        let input = try model.input(from: Fixtures.penguins)
        let batch = model.predict(input)
        #expect(batch.rowCount == 344)
        #expect(batch.classCount == 3)
        for row in [0, 3, 100, 343] {
            let one = ModelInput(columns: input.columns.map { column in
                switch column {
                case .numeric(let v): return .numeric([v[row]])
                case .categorical(let v): return .categorical([v[row]])
                }
            }, rowCount: 1)
            let single = model.predict(one)
            #expect(single.labels?[0] == batch.labels?[row])
            #expect(single.probabilities(row: 0).map(Array.init) == batch.probabilities(row: row).map(Array.init))
            let p = try #require(batch.probabilities(row: row))
            #expect(abs(p.reduce(0, +) - 1) < 1e-12)
        }
        #expect(batch.probabilities(row: 344) == nil)
    }

    @Test func oddInputNeverTraps() throws {
        let model = Self.logistic.model
        let empty = model.predict(ModelInput(columns: [], rowCount: 3))
        #expect(empty.labels?.count == 3)
        let short = model.predict(ModelInput(columns: [.categorical(["Dream"]), .numeric([])], rowCount: 2))
        #expect(short.rowCount == 2)
        let swapped = model.predict(ModelInput(columns: [.numeric([1]), .categorical(["40.1"]), .categorical(["x"])], rowCount: 1))
        #expect(swapped.labels?.count == 1)
        #expect(model.predict(ModelInput(columns: [], rowCount: -5)).rowCount == 0)
        #expect(failure { try model.check(ModelInput(columns: [], rowCount: 1)) }?.description
            == "invalid prediction input: got 0 columns, the model has 7 features")
        let wrongLength = ModelInput(columns: (0..<7).map { _ in .numeric([1, 2]) }, rowCount: 3)
        #expect(failure { try model.check(wrongLength) }?.description == "invalid prediction input: column 'island' has 2 values, expected 3")
    }

    @Test func unseenCategoriesUseTheUnknownBucket() throws {
        let model = Self.logistic.model
        let known = try model.input(named: [
            "island": .categorical(["Biscoe"]), "bill_length_mm": .numeric([47]), "bill_depth_mm": .numeric([15]),
            "flipper_length_mm": .numeric([215]), "body_mass_g": .numeric([5000]), "sex": .categorical(["male"]),
            "year": .numeric([2008]),
        ], rowCount: 1)
        #expect(model.predict(known).labels == ["Gentoo"])
        var unseen = known
        unseen.columns[0] = .categorical(["Atlantis"])
        unseen.columns[5] = .categorical([nil])
        #expect(model.predict(unseen).labels == ["Gentoo"])
        #expect(failure { try model.input(named: [:], rowCount: 1) }?.description == "invalid prediction input: missing feature 'island'")
    }

    @Test func inputFromTableChecksColumns() throws {
        let model = Self.logistic.model
        let noIsland = try Fixtures.csv("species,bill_length_mm\nAdelie,1", source: "new.csv")
        #expect(failure { try model.input(from: noIsland) }?.description.hasPrefix("new.csv: no column 'island'") == true)
        let header = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year"
        let text = try Fixtures.csv("\(header)\nDream,40,18,190,3500,male,2008\nDream,forty,18,190,3500,male,2008", source: "new.csv")
        #expect(failure { try model.input(from: text) } == .notANumber(source: "new.csv", line: 3, column: "bill_length_mm", value: "forty"))
    }

    @Test func evaluateScoresATable() throws {
        let evaluation = try evaluate(Self.logistic.model, on: Fixtures.penguins)
        #expect(evaluation.rows == 344)
        #expect(evaluation.classes == ["Adelie", "Chinstrap", "Gentoo"])
        #expect(try #require(evaluation.metrics["accuracy"]) > 0.95)
        #expect(evaluation.confusionMatrix?.joined().reduce(0, +) == 344)

        let odd = try Fixtures.csv("""
            species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year
            Adelie,Torgersen,39.1,18.7,181,3750,male,2007
            Emperor,Biscoe,50,15,220,5500,male,2008
            NA,Biscoe,50,15,220,5500,male,2008
            """)
        let extended = try evaluate(Self.logistic.model, on: odd)
        #expect(extended.rows == 2)
        #expect(extended.skippedRows == 1)
        #expect(extended.classes == ["Adelie", "Chinstrap", "Gentoo", "Emperor"])
        #expect(extended.confusionMatrix?.count == 4)
        #expect(extended.metrics["accuracy"] == 0.5)

        let regression = try evaluate(Self.linear.model, on: Fixtures.regressionTable(seed: 99))
        #expect(try #require(regression.metrics["r2"]) > 0.99)
        #expect(failure { try evaluate(Self.linear.model, on: Fixtures.penguins) }?.description.hasPrefix("penguins.csv: no column 'y'") == true)
    }

    @Test func loadRejectsBrokenArtifacts() throws {
        let good = Self.logistic.artifact
        let text = good.encodedString()
        #expect(failure { try Model(data: Data(text.prefix(text.count / 2).utf8)) }?.description.hasPrefix("invalid model artifact: not valid JSON") == true)
        #expect(failure { try Model(data: Data()) }?.description.hasPrefix("invalid model artifact: not valid JSON") == true)
        #expect(loadError(.array([])) == "invalid model artifact: expected a JSON object, got array")
        #expect(loadError(edit(good, ["extra"], 1)) == "invalid model artifact: unknown field 'extra'")
        #expect(loadError(edit(good, ["model", "extra"], 1)) == "invalid model artifact: unknown field 'extra' in 'model'")
        #expect(loadError(edit(good, ["schemaVersion"], 2)) == "invalid model artifact: unsupported schemaVersion 2, this version reads 1")
        #expect(loadError(edit(good, ["schemaVersion"], nil)) == "invalid model artifact: missing field 'schemaVersion'")
        #expect(loadError(edit(good, ["format"], "other")) == "invalid model artifact: field 'format' is 'other', expected 'mreg-model'")
        #expect(loadError(edit(good, ["algorithm"], "svm")) == "invalid model artifact: unknown algorithm 'svm' (expected logistic, linear, mlp, gbdt)")
        #expect(loadError(edit(good, ["task"], "ranking")) == "invalid model artifact: unknown task 'ranking' (expected classification or regression)")
        #expect(loadError(edit(good, ["algorithm"], "linear")) == "invalid model artifact: algorithm 'linear' does not do classification")
        #expect(loadError(edit(good, ["model", "coefficients", "1"], [1, 2, 3])) == "invalid model artifact: field 'model.coefficients[1]' has 3 values, expected 12")
        #expect(loadError(edit(good, ["model", "intercepts"], [1, 2])) == "invalid model artifact: field 'model.intercepts' has 2 values, expected 3")
        #expect(loadError(edit(good, ["model", "coefficients", "0", "4"], .null)) == "invalid model artifact: field 'model.coefficients[0][4]' must be a finite number, got null")
        #expect(loadError(edit(good, ["model", "coefficients", "0", "4"], .number(.infinity))) == "invalid model artifact: field 'model.coefficients[0][4]' must be a finite number, got number")
        #expect(loadError(edit(good, ["classes"], ["Adelie"])) == "invalid model artifact: field 'classes' needs at least 2 classes, got 1")
        #expect(loadError(edit(good, ["preprocessing", "1", "scale"], 0)) == "invalid model artifact: field 'preprocessing[1].scale' must be positive")
        #expect(loadError(edit(good, ["preprocessing", "1", "feature"], "x")) == "invalid model artifact: field 'preprocessing[1].feature' is 'x', expected 'bill_length_mm'")
        #expect(loadError(edit(good, ["features", "0", "type"], "text")) == "invalid model artifact: field 'features[0].type' is 'text', expected numeric or categorical")
        #expect(loadError(edit(good, ["features"], [])) != nil)
        #expect(loadError(edit(good, ["params"], 3)) == "invalid model artifact: field 'params' must be an object, got number")
    }

    @Test func loadRejectsBrokenTreesAndNetworks() throws {
        let gbdt = Self.gbdt.artifact
        #expect(loadError(edit(gbdt, ["model", "trees", "0", "left", "0"], 0)) == "invalid model artifact: field 'model.trees[0]' node 0 has a child that does not come after it")
        #expect(loadError(edit(gbdt, ["model", "trees", "0", "feature", "0"], 99)) == "invalid model artifact: field 'model.trees[0].feature[0]' is 99, expected -1...11")
        #expect(loadError(edit(gbdt, ["model", "trees", "0", "value"], [1])) != nil)
        #expect(loadError(edit(gbdt, ["model", "trees", "0", "output"], 3)) == "invalid model artifact: field 'model.trees[0].output' is 3, expected 0...2")
        #expect(loadError(edit(gbdt, ["model", "baseline"], [0])) == "invalid model artifact: field 'model.baseline' has 1 values, expected 3")
        let mlp = Self.mlp.artifact
        #expect(loadError(edit(mlp, ["model", "layers", "1", "biases"], [0, 0])) == "invalid model artifact: field 'model.layers[1].weights[0]' has 8 values, expected 2")
        #expect(loadError(edit(mlp, ["model", "layers", "2", "biases"], [0, 0])) == "invalid model artifact: field 'model.layers[2].biases' has 2 values, expected 3")
        #expect(loadError(edit(mlp, ["model", "targetMean"], 1)) == "invalid model artifact: unknown field 'targetMean' in 'model'")
        let regression = Self.mlpRegression.artifact
        #expect(loadError(edit(regression, ["model", "targetScale"], -1)) == "invalid model artifact: field 'model.targetScale' must be positive")
        #expect(loadError(edit(regression, ["classes"], ["a", "b"])) == "invalid model artifact: field 'classes' is not allowed for regression")
        let linear = Self.linear.artifact
        #expect(loadError(edit(linear, ["model", "coefficients"], [1])) == "invalid model artifact: field 'model.coefficients' has 1 values, expected 6")
    }

    @Test func loadSurvivesRandomCorruption() {
        // Flip bytes of a real artifact: every result must be a clean error or a model, never a trap.
        let bytes = [UInt8](Self.gbdt.artifact.encoded())
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            var copy = bytes
            for _ in 0..<3 {
                let i = rng.below(copy.count)
                copy[i] = [UInt8(ascii: "0"), UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "]")][rng.below(5)]
            }
            if let model = try? Model(data: Data(copy)) {
                _ = model.predict(ModelInput(columns: [], rowCount: 2))
            }
        }
    }
}
