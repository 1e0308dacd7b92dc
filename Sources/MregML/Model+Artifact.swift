import Foundation
import MregCore

extension Model {
    /// The artifact schema this version writes and reads.
    public static let schemaVersion = 1
    /// The `format` tag of `model.json`.
    public static let format = "mreg-model"

    /// Validates a `model.json` document and builds the model; any inconsistency is an `invalidModel` error.
    public convenience init(artifact: JSONValue) throws(MLError) {
        let root = try ArtifactReader(artifact, path: "")
        let version = try root.value("schemaVersion")
        guard version.intValue == Model.schemaVersion else {
            let shown = version.isNull ? "missing" : version.encodedString()
            throw .invalidModel("unsupported schemaVersion \(shown), this version reads \(Model.schemaVersion)")
        }
        try root.allow(["schemaVersion", "format", "task", "algorithm", "target", "classes", "features", "preprocessing", "params", "model"])
        let format = try root.string("format")
        guard format == Model.format else { throw .invalidModel("field 'format' is '\(format)', expected '\(Model.format)'") }
        let taskName = try root.string("task")
        guard let task = Task(rawValue: taskName) else {
            throw .invalidModel("unknown task '\(taskName)' (expected classification or regression)")
        }
        let algorithmName = try root.string("algorithm")
        guard let algorithm = Algorithm(rawValue: algorithmName) else {
            throw .invalidModel("unknown algorithm '\(algorithmName)' (expected \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard algorithm.supports(task) else { throw .invalidModel("algorithm '\(algorithmName)' does not do \(taskName)") }
        let target = try root.string("target")

        var classes: [String]? = nil
        if task == .classification {
            let list = try root.strings("classes")
            guard list.count >= 2 else { throw .invalidModel("field 'classes' needs at least 2 classes, got \(list.count)") }
            guard Set(list).count == list.count else { throw .invalidModel("field 'classes' has duplicates") }
            classes = list
        } else if root.has("classes") {
            throw .invalidModel("field 'classes' is not allowed for regression")
        }

        var specs = [FeatureSpec]()
        for item in try root.objects("features") {
            try item.allow(["name", "type"])
            let typeName = try item.string("type")
            guard let type = FeatureType(rawValue: typeName) else {
                throw .invalidModel("field '\(item.path).type' is '\(typeName)', expected numeric or categorical")
            }
            specs.append(FeatureSpec(name: try item.string("name"), type: type))
        }
        guard !specs.isEmpty else { throw .invalidModel("field 'features' is empty") }
        guard Set(specs.map(\.name)).count == specs.count else { throw .invalidModel("field 'features' has duplicate names") }

        var steps = [Preprocessor.Step]()
        for (i, item) in try root.objects("preprocessing", count: specs.count).enumerated() {
            let name = try item.string("feature")
            guard name == specs[i].name else {
                throw .invalidModel("field '\(item.path).feature' is '\(name)', expected '\(specs[i].name)'")
            }
            switch specs[i].type {
            case .numeric:
                try item.allow(["feature", "impute", "mean", "scale"])
                let scale = try item.number("scale")
                guard scale > 0 else { throw .invalidModel("field '\(item.path).scale' must be positive") }
                steps.append(.numeric(fill: try item.number("impute"), mean: try item.number("mean"), scale: scale))
            case .categorical:
                try item.allow(["feature", "impute", "categories"])
                let categories = try item.strings("categories")
                guard Set(categories).count == categories.count else {
                    throw .invalidModel("field '\(item.path).categories' has duplicates")
                }
                let fill: String?
                switch try item.value("impute") {
                case .null: fill = nil
                case .string(let s): fill = s
                case let other: throw .invalidModel("field '\(item.path).impute' must be a string or null, got \(other.typeName)")
                }
                steps.append(.categorical(categories: categories, fill: fill))
            }
        }
        let preprocessor = Preprocessor(features: specs, steps: steps)
        let params = try root.value("params")
        guard case .object(let paramFields) = params else {
            throw .invalidModel("field 'params' must be an object, got \(params.typeName)")
        }
        let estimator = try Model.readEstimator(try root.object("model"), algorithm: algorithm, task: task,
                                                width: preprocessor.width, classCount: classes?.count ?? 0)
        self.init(task: task, algorithm: algorithm, target: target, classes: classes, preprocessor: preprocessor,
                  params: paramFields, estimator: estimator)
    }

    static func readEstimator(_ m: ArtifactReader, algorithm: Algorithm, task: Task, width: Int, classCount: Int) throws(MLError) -> Estimator {
        switch algorithm {
        case .logistic:
            try m.allow(["coefficients", "intercepts"])
            let outputs = classCount == 2 ? 1 : classCount
            let weights = try m.matrix("coefficients", rows: outputs, cols: width)
            let intercepts = try m.numbers("intercepts", count: outputs)
            return .logistic(LogisticModel(classCount: classCount, outputs: outputs, width: width, weights: weights, intercepts: intercepts))
        case .linear:
            try m.allow(["coefficients", "intercept"])
            return .linear(LinearModel(weights: try m.numbers("coefficients", count: width), intercept: try m.number("intercept")))
        case .mlp:
            try m.allow(task == .regression ? ["layers", "targetMean", "targetScale"] : ["layers"])
            let layers = try m.objects("layers")
            guard !layers.isEmpty, layers.count <= 16 else {
                throw .invalidModel("field 'model.layers' has \(layers.count) layers, expected 1...16")
            }
            var sizes = [width]
            var weights = [[Double]](), biases = [[Double]]()
            for (l, layer) in layers.enumerated() {
                try layer.allow(["weights", "biases"])
                let biasValues = try layer.numbers("biases")
                let units = biasValues.count
                let expected = l == layers.count - 1 ? (task == .classification ? classCount : 1) : nil
                if let expected, units != expected {
                    throw .invalidModel("field '\(layer.path).biases' has \(units) values, expected \(expected)")
                }
                guard units > 0, units <= 4096 || expected != nil else {
                    throw .invalidModel("field '\(layer.path).biases' has \(units) values, expected 1...4096")
                }
                weights.append(try layer.matrix("weights", rows: sizes[l], cols: units))
                biases.append(biasValues)
                sizes.append(units)
            }
            var mean = 0.0, scale = 1.0
            if task == .regression {
                mean = try m.number("targetMean")
                scale = try m.number("targetScale")
                guard scale > 0 else { throw .invalidModel("field 'model.targetScale' must be positive") }
            }
            return .mlp(MLPModel(sizes: sizes, weights: weights, biases: biases, classCount: task == .classification ? classCount : 0,
                                 targetMean: mean, targetScale: scale))
        case .gbdt:
            try m.allow(["baseline", "trees"])
            let outputs = classCount > 2 ? classCount : 1
            let baseline = try m.numbers("baseline", count: outputs)
            var trees = [RegressionTree]()
            for tree in try m.objects("trees") {
                try tree.allow(["output", "feature", "threshold", "left", "right", "value"])
                let output = try tree.int("output", in: 0...(outputs - 1))
                let feature = try tree.ints("feature", in: -1...(width - 1))
                let count = feature.count
                guard count >= 1 else { throw .invalidModel("field '\(tree.path).feature' is empty") }
                let threshold = try tree.numbers("threshold", count: count)
                let left = try tree.ints("left", count: count, in: 0...(count - 1))
                let right = try tree.ints("right", count: count, in: 0...(count - 1))
                let value = try tree.numbers("value", count: count)
                // Children must come after their parent: prediction then always ends at a leaf.
                for i in 0..<count where feature[i] >= 0 {
                    guard left[i] > i, right[i] > i else {
                        throw .invalidModel("field '\(tree.path)' node \(i) has a child that does not come after it")
                    }
                }
                trees.append(RegressionTree(output: output, feature: feature.map { Int32($0) }, threshold: threshold,
                                            left: left.map { Int32($0) }, right: right.map { Int32($0) }, value: value))
            }
            return .gbdt(GBDTModel(classCount: task == .classification ? classCount : 0, outputs: outputs, baseline: baseline, trees: trees))
        }
    }

    /// The `model.json` document of this model (canonical: same model, same bytes).
    public var artifact: JSONValue {
        var root: [String: JSONValue] = [
            "schemaVersion": .number(Double(Model.schemaVersion)),
            "format": .string(Model.format),
            "task": .string(task.rawValue),
            "algorithm": .string(algorithm.rawValue),
            "target": .string(target),
            "features": .array(features.map { ["name": .string($0.name), "type": .string($0.type.rawValue)] }),
            "params": .object(params),
        ]
        if let classes { root["classes"] = .array(classes.map(JSONValue.string)) }
        var steps = [JSONValue]()
        for (spec, step) in zip(preprocessor.features, preprocessor.steps) {
            switch step {
            case .numeric(let fill, let mean, let scale):
                steps.append(["feature": .string(spec.name), "impute": .number(fill), "mean": .number(mean), "scale": .number(scale)])
            case .categorical(let categories, let fill):
                steps.append(["feature": .string(spec.name), "impute": fill.map(JSONValue.string) ?? .null,
                              "categories": .array(categories.map(JSONValue.string))])
            }
        }
        root["preprocessing"] = .array(steps)
        root["model"] = Model.encode(estimator, width: preprocessor.width)
        return .object(root)
    }

    static func numbers(_ values: some Collection<Double>) -> JSONValue { .array(values.map(JSONValue.number)) }

    static func rows(_ values: [Double], cols: Int) -> JSONValue {
        guard cols > 0 else { return .array([]) }
        return .array(stride(from: 0, to: values.count, by: cols).map { numbers(values[$0..<$0 + cols]) })
    }

    static func encode(_ estimator: Estimator, width: Int) -> JSONValue {
        switch estimator {
        case .logistic(let m):
            return ["coefficients": rows(m.weights, cols: width), "intercepts": numbers(m.intercepts)]
        case .linear(let m):
            return ["coefficients": numbers(m.weights), "intercept": .number(m.intercept)]
        case .mlp(let m):
            var layers = [JSONValue]()
            for l in 0..<m.weights.count {
                layers.append(["weights": rows(m.weights[l], cols: m.sizes[l + 1]), "biases": numbers(m.biases[l])])
            }
            var out: [String: JSONValue] = ["layers": .array(layers)]
            if m.classCount == 0 {
                out["targetMean"] = .number(m.targetMean)
                out["targetScale"] = .number(m.targetScale)
            }
            return .object(out)
        case .gbdt(let m):
            let trees: [JSONValue] = m.trees.map { t in
                [
                    "output": .number(Double(t.output)),
                    "feature": .array(t.feature.map { .number(Double($0)) }),
                    "threshold": numbers(t.threshold),
                    "left": .array(t.left.map { .number(Double($0)) }),
                    "right": .array(t.right.map { .number(Double($0)) }),
                    "value": numbers(t.value),
                ]
            }
            return ["baseline": numbers(m.baseline), "trees": .array(trees)]
        }
    }
}
