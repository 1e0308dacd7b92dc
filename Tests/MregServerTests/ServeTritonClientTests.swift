import Foundation
import MregCore
import MregML
import MregTestSupport
import Testing

/// The stock `tritonclient.http` from PyPI, defaults unchanged (binary tensor data on), against a
/// real `mreg serve`: scripts/testing/triton_client_check.py does the calls, this test gives it the
/// inputs and the predictions MregML makes for them.
@Suite("tritonclient against mreg serve",
       .enabled(if: TritonVenv.venv.available, "needs python3 and pip to make the venv of Tests/requirements-triton.txt"))
struct ServeTritonClientTests {

    /// Rows without a missing value (BYTES cannot say null; numpy integers cannot hold NaN).
    static func completeRows(_ model: Model, _ count: Int) -> ModelInput {
        let all = Models.input(model, rows: 0..<Models.penguinsTable.rowCount)
        var keep = [Int]()
        for r in 0..<all.rowCount where keep.count < count {
            let complete = all.columns.allSatisfy { c in
                switch c {
                case .numeric(let v): return v[r].isFinite
                case .categorical(let v): return v[r] != nil
                }
            }
            if complete { keep.append(r) }
        }
        return ModelInput(columns: all.columns.map { c in
            switch c {
            case .numeric(let v): return .numeric(keep.map { v[$0] })
            case .categorical(let v): return .categorical(keep.map { v[$0] })
            }
        }, rowCount: keep.count)
    }

    static func cases() -> JSONValue {
        let model = Models.species.model
        let input = completeRows(model, 12)
        let predicted = model.predict(input)
        var features = [JSONValue]()
        var probabilities = [JSONValue]()
        for (spec, column) in zip(model.features, input.columns) {
            switch column {
            case .numeric(let v):
                // Whole-valued columns go as INT64, the others as FP64.
                let whole = v.allSatisfy { $0 == $0.rounded() }
                features.append(["name": .string(spec.name), "kind": "numeric", "datatype": whole ? "INT64" : "FP64",
                                 "values": .array(v.map(JSONValue.number))])
            case .categorical(let v):
                features.append(["name": .string(spec.name), "kind": "categorical", "datatype": "BYTES",
                                 "values": .array(v.map { .string($0!) })])
            }
        }
        for r in 0..<predicted.rowCount {
            let row = predicted.probabilities![(r * predicted.classCount)..<((r + 1) * predicted.classCount)]
            probabilities.append(.array(row.map(JSONValue.number)))
        }
        let numeric = Models.massNumeric.model
        let rows = completeRows(numeric, 9)
        var matrix = [JSONValue]()
        for r in 0..<rows.rowCount {
            matrix.append(.array(rows.columns.map { c in
                if case .numeric(let v) = c { return .number(v[r]) }
                return .null
            }))
        }
        let rounded = ModelInput(columns: rows.columns.map { c in
            if case .numeric(let v) = c { return .numeric(v.map { Double(Float($0)) }) }
            return c
        }, rowCount: rows.rowCount)
        return [
            "classifier": [
                "model": "penguins", "version": "v1", "classes": .array(model.classes!.map(JSONValue.string)),
                "features": .array(features), "labels": .array(predicted.labels!.map(JSONValue.string)),
                "probabilities": .array(probabilities),
            ],
            "matrix": [
                "model": "measures", "rows": .array(matrix),
                "values": .array(numeric.predict(rows).values!.map(JSONValue.number)),
                "values_fp32": .array(numeric.predict(rounded).values!.map(JSONValue.number)),
            ],
        ]
    }

    @Test("tritonclient.http with binary data: health, metadata, config, infer, async_infer, statistics")
    func tritonHTTPClient() async throws {
        let store = TestStore()
        defer { store.remove() }
        store.add("penguins", "v1", Models.species)
        store.add("measures", "v1", Models.massNumeric)
        let casesFile = store.dir.write("cases.json", ServeTritonClientTests.cases().encodedString())
        let server = try ServerProcess(store: store.path)
        defer { server.stop() }
        let address = String(server.base.dropFirst("http://".count))
        let result = TritonVenv.venv.runScript("scripts/testing/triton_client_check.py", ["http", address, casesFile])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("checks passed"), "\(result.stdout)")
        #expect(server.process.isRunning)
    }
}

/// The environment of Tests/requirements-triton.txt (tritonclient with its http part).
enum TritonVenv {
    static let venv = PythonVenv(requirements: "Tests/requirements-triton.txt")
}
