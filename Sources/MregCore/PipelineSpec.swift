/// A pipeline file (`mreg pipeline run PIPELINE.yaml`): data -> split -> train -> evaluate ->
/// gate -> register -> promote, in one reviewed file.
public struct PipelineSpec: Sendable, Equatable {
    public struct DataStep: Sendable, Equatable {
        /// A CSV path, relative to the pipeline file; `--data` overrides it.
        public var path: String?
        public var target: String
        /// Expected columns and their types (`numeric` or `categorical`), in order; empty: not checked.
        public var schema: [FeatureDeclaration]
        /// Whether columns beyond the schema are accepted (and ignored by training).
        public var allowExtraColumns: Bool
    }

    public struct SplitStep: Sendable, Equatable {
        /// Share of rows held out for the evaluate step; training never sees them.
        public var holdout: Double
        public var seed: UInt64
    }

    public struct TrainStep: Sendable, Equatable {
        public var algorithm: String?
        public var task: String?
        /// Fixed parameters, as text.
        public var params: [String: String]
        /// Candidate values per parameter for the search, as text.
        public var space: [String: [String]]
        public var trials: Int
        public var seed: UInt64
    }

    public struct RegisterStep: Sendable, Equatable {
        public var message: String?
        /// Register a candidate that failed the gate, marked rejected (never promoted).
        public var keepRejected: Bool
    }

    public struct PromoteStep: Sendable, Equatable {
        public var environment: String
        public var canary: Int?
        /// Merge into main here; refused for the last environment of mreg.yaml (production).
        public var merge: Bool
        /// Push the promotion branch to this remote.
        public var push: String?
    }

    public var name: String
    public var model: String
    public var data: DataStep
    public var split: SplitStep
    public var train: TrainStep
    public var gate: [MetricRule]
    public var register: RegisterStep
    public var promote: PromoteStep?

    public static func parse(_ text: String, file: String) throws(CoreError) -> PipelineSpec {
        var f = try Fields(try YAML.parse(text, file: file), file: file)
        try f.schemaVersion(1)
        let name = try f.string("name")
        let model = try f.string("model")
        guard Names.isValidModelName(model) else { throw f.error("model", "'\(model)' is not a valid model name") }

        var d = try f.object("data")
        var schema = [FeatureDeclaration]()
        if var s = try d.optionalObject("schema") {
            for column in s.allKeys() {
                let type = try s.string(column)
                guard type == "numeric" || type == "categorical" else {
                    throw s.error(column, "must be numeric or categorical, found '\(type)'")
                }
                schema.append(FeatureDeclaration(name: column, type: type))
            }
        }
        let data = DataStep(path: try d.optionalString("path"), target: try d.string("target"), schema: schema,
                            allowExtraColumns: try d.bool("allowExtraColumns", default: true))
        if !schema.isEmpty, !schema.contains(where: { $0.name == data.target }) {
            throw d.error("schema", "does not list the target '\(data.target)'")
        }
        try d.finish()

        var split = SplitStep(holdout: 0.2, seed: 42)
        if var s = try f.optionalObject("split") {
            split.holdout = try s.optionalDouble("holdout") ?? 0.2
            guard split.holdout > 0 && split.holdout < 1 else { throw s.error("holdout", "must be between 0 and 1") }
            if let seed = try s.optionalInt("seed") {
                guard seed >= 0 else { throw s.error("seed", "must not be negative") }
                split.seed = UInt64(seed)
            }
            try s.finish()
        }

        var t = try f.object("train")
        var train = TrainStep(algorithm: try t.optionalString("algorithm"), task: try t.optionalString("task"), params: [:], space: [:],
                              trials: try t.optionalInt("trials") ?? 1, seed: 42)
        if let task = train.task, task != "classification", task != "regression" {
            throw t.error("task", "must be classification or regression, found '\(task)'")
        }
        guard (1...10_000).contains(train.trials) else { throw t.error("trials", "must be between 1 and 10000") }
        if let seed = try t.optionalInt("seed") {
            guard seed >= 0 else { throw t.error("seed", "must not be negative") }
            train.seed = UInt64(seed)
        }
        if var p = try t.optionalObject("params") {
            for key in p.allKeys() { train.params[key] = try scalarText(p.value(key), p, key) }
        }
        if var sp = try t.optionalObject("space") {
            for key in sp.allKeys() {
                guard case .array(let items)? = sp.value(key), !items.isEmpty else { throw sp.error(key, "must be a non-empty list of values") }
                var values = [String]()
                for (i, item) in items.enumerated() { values.append(try scalarText(item, sp, "\(key)[\(i)]")) }
                train.space[key] = values
            }
        }
        try t.finish()

        var gate = [MetricRule]()
        if var g = try f.optionalObject("gate") {
            for metric in g.allKeys() {
                var r = try g.object(metric)
                let rule = MetricRule(metric: metric, min: try r.optionalDouble("min"), max: try r.optionalDouble("max"))
                guard rule.min != nil || rule.max != nil else { throw r.error("min", "or max is required") }
                try r.finish()
                gate.append(rule)
            }
        }

        var register = RegisterStep(message: nil, keepRejected: false)
        if var r = try f.optionalObject("register") {
            register.message = try r.optionalString("message")
            register.keepRejected = try r.bool("keepRejected", default: false)
            try r.finish()
        }

        var promote: PromoteStep?
        if var p = try f.optionalObject("promote") {
            let env = try p.string("to")
            guard Names.isValidModelName(env) else { throw p.error("to", "'\(env)' is not a valid environment name") }
            let canary = try p.optionalInt("canary")
            if let canary, !(0...100).contains(canary) { throw p.error("canary", "must be between 0 and 100") }
            promote = PromoteStep(environment: env, canary: canary, merge: try p.bool("merge", default: false), push: try p.optionalString("push"))
            try p.finish()
        }
        try f.finish()
        return PipelineSpec(name: name, model: model, data: data, split: split, train: train, gate: gate, register: register, promote: promote)
    }

    private static func scalarText(_ value: JSONValue?, _ f: Fields, _ key: String) throws(CoreError) -> String {
        switch value {
        case .string(let s)?: return s
        case .number(let d)?: return JSONValue.format(d)
        case .bool(let b)?: return b ? "true" : "false"
        default: throw f.error(key, "must be a number, a string or a boolean")
        }
    }
}
