import Foundation
import MregCore
import MregML

/// One version of a model in memory, warmed and ready: the model plus everything a response needs
/// that does not change per request, computed once at load time.
final class LoadedVersion: Sendable {
    let name: String
    let version: String
    let model: any Scorer
    let stats: VersionStats
    /// Feature name to its position in the model's schema.
    let featureIndex: [String: Int]
    /// The feature names for the request parser.
    let featureNames: FeatureNames
    /// Names of the outputs this model has, in response order.
    let outputNames: [String]
    /// `{"model_name":"...","model_version":"...",`
    let responsePrefix: [UInt8]
    /// Each class label as a quoted JSON string.
    let quotedClasses: [[UInt8]]
    /// Each class label as a binary BYTES element: 4-byte little-endian length, then UTF-8.
    let binaryClasses: [[UInt8]]
    /// The metadata document (`GET /v2/models/NAME`), complete.
    let metadata: [UInt8]
    /// The ready document (`GET .../ready`), complete.
    let readyBody: [UInt8]

    init(name: String, version: String, model: any Scorer, stats: VersionStats) {
        self.name = name
        self.version = version
        self.model = model
        self.stats = stats
        var index = [String: Int]()
        for (i, f) in model.features.enumerated() { index[f.name] = i }
        featureIndex = index
        featureNames = FeatureNames(model.features.map(\.name))
        let classification = model.task == .classification
        outputNames = classification ? ["label", "probabilities"] : ["value"]
        var prefix = [UInt8]()
        prefix.append(contentsOf: #"{"model_name":"#.utf8)
        JSONWriter.string(name, to: &prefix)
        prefix.append(contentsOf: #","model_version":"#.utf8)
        JSONWriter.string(version, to: &prefix)
        prefix.append(UInt8(ascii: ","))
        responsePrefix = prefix
        quotedClasses = (model.classes ?? []).map(JSONWriter.quoted)
        binaryClasses = (model.classes ?? []).map { label in
            withUnsafeBytes(of: UInt32(label.utf8.count).littleEndian, Array.init) + Array(label.utf8)
        }
        metadata = Array(LoadedVersion.metadataDocument(name: name, versions: [version], model: model).encoded())
        readyBody = Array(JSONValue.object(["name": .string(name), "version": .string(version), "ready": true]).encoded())
    }

    /// Model metadata in the protocol's shape, plus `parameters` telling the task, the format, the
    /// target and algorithm (built-in models; foreign files name neither) and the classes.
    static func metadataDocument(name: String, versions: [String], model: any Scorer) -> JSONValue {
        let inputs: [JSONValue] = model.features.map { f in
            [
                "name": .string(f.name), "datatype": f.type == .numeric ? "FP64" : "BYTES", "shape": [-1],
                "parameters": ["feature_type": .string(f.type.rawValue)],
            ]
        }
        var outputs: [JSONValue]
        var parameters: [String: JSONValue] = [
            "task": .string(model.task.rawValue), "format": .string(model.format.rawValue),
            "features": .array(model.features.map { .string($0.name) }),
        ]
        if let own = model as? Model {
            parameters["target"] = .string(own.target)
            parameters["algorithm"] = .string(own.algorithm.rawValue)
        }
        if model.task == .classification {
            let classes = JSONValue.array((model.classes ?? []).map(JSONValue.string))
            outputs = [
                ["name": "label", "datatype": "BYTES", "shape": [-1]],
                [
                    "name": "probabilities", "datatype": "FP64",
                    "shape": [-1, .number(Double(model.classes?.count ?? 0))], "parameters": ["classes": classes],
                ],
            ]
            parameters["classes"] = classes
        } else {
            outputs = [["name": "value", "datatype": "FP64", "shape": [-1]]]
        }
        return [
            "name": .string(name), "versions": .array(versions.map(JSONValue.string)), "platform": "mreg",
            "inputs": .array(inputs), "outputs": .array(outputs), "parameters": .object(parameters),
        ]
    }

    /// The model configuration extension's document, with the fields Triton's clients read: inputs
    /// and outputs with `data_type` (`TYPE_FP64`; BYTES is `TYPE_STRING`, as in Triton) and `dims`
    /// including the batch dimension (`max_batch_size` 0), and the served versions as numbers.
    static func configDocument(name: String, versions: [String], model: any Scorer) -> JSONValue {
        func tensor(_ name: String, _ type: String, _ dims: [Double]) -> JSONValue {
            ["name": .string(name), "data_type": .string(type), "format": "FORMAT_NONE", "dims": .array(dims.map(JSONValue.number))]
        }
        let inputs = model.features.map { f in tensor(f.name, f.type == .numeric ? "TYPE_FP64" : "TYPE_STRING", [-1]) }
        let outputs: [JSONValue] = model.task == .classification
            ? [tensor("label", "TYPE_STRING", [-1]), tensor("probabilities", "TYPE_FP64", [-1, Double(model.classes?.count ?? 0)])]
            : [tensor("value", "TYPE_FP64", [-1])]
        let numbers = versions.compactMap(Names.versionNumber).map { JSONValue.number(Double($0)) }
        return [
            "name": .string(name), "platform": "mreg", "backend": "mreg", "max_batch_size": 0,
            "version_policy": ["specific": ["versions": .array(numbers)]],
            "input": .array(inputs), "output": .array(outputs),
            "parameters": [
                "task": ["string_value": .string(model.task.rawValue)],
                "format": ["string_value": .string(model.format.rawValue)],
            ],
        ]
    }

    /// Runs one prediction on a row of missing values, so the first real request does not pay for
    /// lazily built state, and proves the model can predict at all.
    func warm() {
        let columns: [FeatureColumn] = model.features.map { f in
            f.type == .numeric ? .numeric([.nan]) : .categorical([nil])
        }
        _ = model.predict(ModelInput(columns: columns, rowCount: 1))
    }
}
