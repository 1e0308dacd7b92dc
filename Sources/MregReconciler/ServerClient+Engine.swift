import Foundation
import MregCore

/// The calls of the Open Inference Protocol that any engine answers (MLServer's model repository
/// extension, readiness by status, an inference built from declared features).
extension ServerClient {
    /// Loads (or reloads) every version of `model` the engine finds in its repository.
    public func loadFromRepository(_ model: String) async throws(ServerCallError) {
        _ = try expectOK(try await call("POST", "/v2/repository/models/\(model)/load", body: [:], admin: true))
    }

    /// True when the engine answers 200 to the model's (default version's) readiness.
    public func isModelReady(_ model: String) async throws(ServerCallError) -> Bool {
        let (status, _) = try await call("GET", "/v2/models/\(model)/ready")
        return status == 200
    }

    /// One marked inference of a single row built from `features` (numeric 0, categorical an empty
    /// string), decoded by the engine as a table (`content_type: pd`); it must answer with outputs.
    public func smokeTest(_ model: String, features: [FeatureDeclaration]) async throws(ServerCallError) {
        guard !features.isEmpty else {
            throw .refused(status: 0, message: "models/\(model)/model.yaml lists no features, and the smoke request needs them")
        }
        let tensors: [JSONValue] = features.map { f in
            let text = f.type == "categorical"
            var tensor: [String: JSONValue] = [
                "name": .string(f.name), "shape": [1], "datatype": .string(text ? "BYTES" : "FP64"),
                "data": .array([text ? .string("") : .number(0)]),
            ]
            if text { tensor["parameters"] = ["content_type": "str"] }
            return .object(tensor)
        }
        let answer = try expectOK(try await call(
            "POST", "/v2/models/\(model)/infer", body: ["parameters": ["content_type": "pd"], "inputs": .array(tensors)],
            headers: [ServingProtocol.smokeTestHeader: "1"]))
        guard let outputs = answer?["outputs"]?.arrayValue, !outputs.isEmpty else {
            throw .refused(status: 200, message: "inference on \(model) returned no outputs")
        }
    }
}
