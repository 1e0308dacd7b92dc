/// A feature column as declared in `model.yaml`.
public struct FeatureDeclaration: Sendable, Equatable {
    public var name: String
    /// `numeric` or `categorical`.
    public var type: String

    public init(name: String, type: String) {
        self.name = name
        self.type = type
    }
}

/// `models/NAME/model.yaml`: what a model is, shared by all its versions.
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    /// `classification` or `regression`; nil until known.
    public var task: String?
    public var target: String?
    public var description: String?
    public var owner: String?
    /// Column types that override inference, in schema order.
    public var features: [FeatureDeclaration]
    /// Evaluation data for `mreg evaluate --changed`: a path in the repository or on the CI machine.
    public var evaluationData: String?

    public init(name: String, task: String? = nil, target: String? = nil, description: String? = nil, owner: String? = nil,
                features: [FeatureDeclaration] = [], evaluationData: String? = nil) {
        self.name = name
        self.task = task
        self.target = target
        self.description = description
        self.owner = owner
        self.features = features
        self.evaluationData = evaluationData
    }

    public static func path(_ model: String) -> String { "models/\(model)/model.yaml" }

    public static func parse(_ text: String, file: String, expectedName: String? = nil) throws(CoreError) -> ModelSpec {
        var f = try Fields(try YAML.parse(text, file: file), file: file)
        try f.schemaVersion(1)
        let name = try f.string("name")
        guard Names.isValidModelName(name) else { throw f.error("name", "'\(name)' is not a valid model name") }
        if let expectedName, name != expectedName { throw f.error("name", "is '\(name)' but the folder is '\(expectedName)'") }
        let task = try f.optionalString("task")
        if let task, task != "classification", task != "regression" {
            throw f.error("task", "must be classification or regression, found '\(task)'")
        }
        var spec = ModelSpec(
            name: name, task: task, target: try f.optionalString("target"), description: try f.optionalString("description"),
            owner: try f.optionalString("owner"))
        var seen = Set<String>()
        for var feature in try f.objectList("features") {
            let fname = try feature.string("name")
            let type = try feature.string("type")
            guard type == "numeric" || type == "categorical" else {
                throw feature.error("type", "must be numeric or categorical, found '\(type)'")
            }
            guard seen.insert(fname).inserted else { throw feature.error("name", "'\(fname)' appears twice") }
            try feature.finish()
            spec.features.append(FeatureDeclaration(name: fname, type: type))
        }
        if var evaluation = try f.optionalObject("evaluation") {
            spec.evaluationData = try evaluation.optionalString("data")
            try evaluation.finish()
        }
        try f.finish()
        return spec
    }

    public func render() -> String {
        var pairs: [(String, YAMLNode)] = [("schemaVersion", .int(1)), ("name", .string(name))]
        if let task { pairs.append(("task", .string(task))) }
        if let target { pairs.append(("target", .string(target))) }
        if let description { pairs.append(("description", .string(description))) }
        if let owner { pairs.append(("owner", .string(owner))) }
        if !features.isEmpty {
            pairs.append(("features", .list(features.map { .map([("name", .string($0.name)), ("type", .string($0.type))]) })))
        }
        if let evaluationData { pairs.append(("evaluation", .map([("data", .string(evaluationData))]))) }
        return YAMLNode.map(pairs).render()
    }
}
