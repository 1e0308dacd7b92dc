/// One file of a registered version, with what proves it unchanged.
public struct VersionFile: Sendable, Equatable {
    public var path: String
    public var size: Int
    public var sha256: String

    public init(path: String, size: Int, sha256: String) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }
}

/// The fingerprint of a dataset a version was made from.
public struct DataFingerprint: Sendable, Equatable {
    /// `train`, `evaluation`, ...
    public var role: String
    public var path: String
    public var sha256: String
    public var rows: Int?
    public var columns: [String]

    public init(role: String, path: String, sha256: String, rows: Int? = nil, columns: [String] = []) {
        self.role = role
        self.path = path
        self.sha256 = sha256
        self.rows = rows
        self.columns = columns
    }
}

/// One trial of a parameter search.
public struct TrialSummary: Sendable, Equatable {
    public var params: JSONValue
    public var metrics: [String: Double]
    public var seconds: Double

    public init(params: JSONValue, metrics: [String: Double], seconds: Double) {
        self.params = params
        self.metrics = metrics
        self.seconds = seconds
    }
}

/// How a version was produced.
public struct VersionSource: Sendable, Equatable {
    /// `register` (files made elsewhere), `train` (a built-in trainer), `external` (a user's program), `pipeline`.
    public var kind: String
    public var command: String?
    public var message: String?
    public var trainer: String?
    public var trainerVersion: String?
    /// The commit of the code that produced the version, where known.
    public var codeCommit: String?

    public init(kind: String, command: String? = nil, message: String? = nil, trainer: String? = nil,
                trainerVersion: String? = nil, codeCommit: String? = nil) {
        self.kind = kind
        self.command = command
        self.message = message
        self.trainer = trainer
        self.trainerVersion = trainerVersion
        self.codeCommit = codeCommit
    }
}

/// `models/NAME/vN/version.yaml`: the lineage of a version, immutable once registered.
public struct VersionRecord: Sendable, Equatable {
    public static let fileName = "version.yaml"
    public var model: String
    public var version: String
    /// ISO 8601, UTC.
    public var created: String
    public var author: String
    public var source: VersionSource
    public var task: String?
    public var algorithm: String?
    public var target: String?
    /// The artifact's format (`mreg`, `xgboost-json`, `xgboost-ubjson`, `lightgbm-text`, `sklearn`, `mlflow`, `unknown`); nil in
    /// versions registered before mreg recorded it, which are then recognised by content.
    public var format: String?
    /// The file of `files` that `format` describes; nil for old versions and for `unknown` without one.
    public var artifact: String?
    /// Input names given at registration (`--features`, `model.yaml`) for a model file that names none.
    public var features: [String]
    public var seed: UInt64?
    /// How the data was split: holdout share and rows per part.
    public var split: JSONValue?
    public var params: JSONValue
    public var data: [DataFingerprint]
    public var trials: [TrialSummary]
    public var bestTrial: Int?
    /// Every file of the version except `version.yaml`, `card.md` and `evaluations/`, sorted by path.
    public var files: [VersionFile]
    /// Free-form provenance of a pipeline run (step results), when the version came from one.
    public var pipeline: JSONValue?

    public init(model: String, version: String, created: String, author: String, source: VersionSource,
                task: String? = nil, algorithm: String? = nil, target: String? = nil, seed: UInt64? = nil,
                params: JSONValue = .object([:]), data: [DataFingerprint] = [], trials: [TrialSummary] = [],
                bestTrial: Int? = nil, files: [VersionFile] = [], pipeline: JSONValue? = nil) {
        self.model = model
        self.version = version
        self.created = created
        self.author = author
        self.source = source
        self.task = task
        self.algorithm = algorithm
        self.target = target
        self.features = []
        self.seed = seed
        self.params = params
        self.data = data
        self.trials = trials
        self.bestTrial = bestTrial
        self.files = files
        self.pipeline = pipeline
    }

    public static func parse(_ text: String, file: String) throws(CoreError) -> VersionRecord {
        var f = try Fields(try YAML.parse(text, file: file), file: file)
        try f.schemaVersion(1)
        let model = try f.string("model")
        guard Names.isValidModelName(model) else { throw f.error("model", "'\(model)' is not a valid model name") }
        let version = try f.string("version")
        guard Names.versionNumber(version) != nil else { throw f.error("version", "'\(version)' is not a version") }
        let created = try f.string("created")
        let author = try f.string("author")
        var s = try f.object("source")
        let source = VersionSource(
            kind: try s.string("kind"), command: try s.optionalString("command"), message: try s.optionalString("message"),
            trainer: try s.optionalString("trainer"), trainerVersion: try s.optionalString("trainerVersion"),
            codeCommit: try s.optionalString("codeCommit"))
        try s.finish()
        var record = VersionRecord(model: model, version: version, created: created, author: author, source: source)
        record.task = try f.optionalString("task")
        record.algorithm = try f.optionalString("algorithm")
        record.target = try f.optionalString("target")
        record.format = try f.optionalString("format")
        if let format = record.format, !VersionRecord.formats.contains(format) {
            throw f.error("format", "'\(format)' is not a known format (\(VersionRecord.formats.joined(separator: ", ")))")
        }
        record.artifact = try f.optionalString("artifact")
        record.features = try f.stringList("features")
        if let seed = try f.optionalInt("seed") {
            guard seed >= 0 else { throw f.error("seed", "must not be negative") }
            record.seed = UInt64(seed)
        }
        record.split = f.value("split")
        if let params = f.value("params") {
            guard case .object = params else { throw f.error("params", "must be a mapping, found \(params.typeName)") }
            record.params = params
        }
        for var d in try f.objectList("data") {
            let fp = DataFingerprint(
                role: try d.string("role"), path: try d.string("path"), sha256: try d.string("sha256"),
                rows: try d.optionalInt("rows"), columns: try d.stringList("columns"))
            try d.finish()
            record.data.append(fp)
        }
        for var t in try f.objectList("trials") {
            let params = t.value("params") ?? .object([:])
            var metrics = [String: Double]()
            if var m = try t.optionalObject("metrics") {
                for key in m.allKeys() { metrics[key] = try m.double(key) }
            }
            record.trials.append(TrialSummary(params: params, metrics: metrics, seconds: try t.optionalDouble("seconds") ?? 0))
            try t.finish()
        }
        record.bestTrial = try f.optionalInt("bestTrial")
        var paths = Set<String>()
        for var file in try f.objectList("files") {
            let path = try file.string("path")
            guard Names.isValidFilePath(path), !VersionRecord.reservedNames.contains(path), !path.hasPrefix("evaluations/") else {
                throw file.error("path", "'\(path)' is not an allowed file path")
            }
            guard paths.insert(path).inserted else { throw file.error("path", "'\(path)' appears twice") }
            let size = try file.int("size")
            guard size >= 0 else { throw file.error("size", "must not be negative") }
            let sha = try file.string("sha256")
            guard sha.utf8.count == 64, sha.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw file.error("sha256", "must be 64 lowercase hex digits")
            }
            try file.finish()
            record.files.append(VersionFile(path: path, size: size, sha256: sha))
        }
        record.pipeline = f.value("pipeline")
        if let artifact = record.artifact, !paths.contains(artifact) {
            throw f.error("artifact", "'\(artifact)' is not one of the version's files")
        }
        if record.artifact == nil, let format = record.format, format != VersionRecord.unknownFormat {
            throw f.error("artifact", "is required with format '\(format)'")
        }
        try f.finish()
        return record
    }

    /// The values `format` may take: the formats a runtime here scores, those only a serving engine
    /// runs (`engineFormats`), and `unknown`.
    public static let formats = nativeFormats + engineFormats + [unknownFormat]
    /// The formats mreg's own runtime scores (MregML's `ModelFormat`).
    public static let nativeFormats = ["mreg", "xgboost-json", "xgboost-ubjson", "lightgbm-text"]
    /// Formats mreg recognises and records but scores only through a serving engine (MLServer):
    /// a scikit-learn pickle or joblib file, an MLflow model folder (its `MLmodel` file).
    public static let engineFormats = [sklearnFormat, mlflowFormat]
    public static let sklearnFormat = "sklearn"
    public static let mlflowFormat = "mlflow"

    /// Whether mreg's own runtime scores a version of `format` (nil: an old version, read by content).
    public static func isScoredNatively(_ format: String?) -> Bool {
        format.map { nativeFormats.contains($0) } ?? true
    }
    /// The format of an artifact no runtime here scores (a pickle, a TorchScript file).
    public static let unknownFormat = "unknown"

    /// Names a version's own files may not take: they are written by mreg.
    public static let reservedNames: Set<String> = ["version.yaml", "card.md"]

    public func render() -> String {
        var pairs: [(String, YAMLNode)] = [
            ("schemaVersion", .int(1)), ("model", .string(model)), ("version", .string(version)),
            ("created", .string(created)), ("author", .string(author)),
        ]
        var src: [(String, YAMLNode)] = [("kind", .string(source.kind))]
        if let v = source.command { src.append(("command", .string(v))) }
        if let v = source.message { src.append(("message", .string(v))) }
        if let v = source.trainer { src.append(("trainer", .string(v))) }
        if let v = source.trainerVersion { src.append(("trainerVersion", .string(v))) }
        if let v = source.codeCommit { src.append(("codeCommit", .string(v))) }
        pairs.append(("source", .map(src)))
        if let task { pairs.append(("task", .string(task))) }
        if let algorithm { pairs.append(("algorithm", .string(algorithm))) }
        if let target { pairs.append(("target", .string(target))) }
        if let format { pairs.append(("format", .string(format))) }
        if let artifact { pairs.append(("artifact", .string(artifact))) }
        if !features.isEmpty { pairs.append(("features", .list(features.map { .string($0) }))) }
        if let seed { pairs.append(("seed", .value(.number(Double(seed))))) }
        if let split { pairs.append(("split", .from(split))) }
        pairs.append(("params", .from(params)))
        if !data.isEmpty {
            pairs.append(("data", .list(data.map { d in
                var p: [(String, YAMLNode)] = [("role", .string(d.role)), ("path", .string(d.path)), ("sha256", .string(d.sha256))]
                if let rows = d.rows { p.append(("rows", .int(rows))) }
                if !d.columns.isEmpty { p.append(("columns", .list(d.columns.map { .string($0) }))) }
                return .map(p)
            })))
        }
        if !trials.isEmpty {
            pairs.append(("trials", .list(trials.map { t in
                .map([
                    ("params", .from(t.params)),
                    ("metrics", .map(t.metrics.keys.sorted().map { ($0, .number(t.metrics[$0]!)) })),
                    ("seconds", .number((t.seconds * 1000).rounded() / 1000)),
                ])
            })))
        }
        if let bestTrial { pairs.append(("bestTrial", .int(bestTrial))) }
        pairs.append(("files", .list(files.sorted { $0.path < $1.path }.map { file in
            .map([("path", .string(file.path)), ("size", .int(file.size)), ("sha256", .string(file.sha256))])
        })))
        if let pipeline { pairs.append(("pipeline", .from(pipeline))) }
        return YAMLNode.map(pairs).render()
    }
}
