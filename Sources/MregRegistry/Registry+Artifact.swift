import Foundation
import MregCore
import MregML

/// What a version's artifact is: its format, its file, and the scorer when a runtime here reads it.
public struct ArtifactInfo {
    /// A `VersionRecord.formats` value.
    public var format: String
    /// The artifact, relative to the version folder; nil for `unknown` when no file stands out.
    public var file: String?
    /// The loaded model; nil for `unknown`.
    public var scorer: (any Scorer)?
    /// Input names applied from `--features` or `model.yaml` because the file names none.
    public var featureNames: [String] = []

    /// What can and cannot be done with a version no runtime here scores; nil when one does.
    public var note: String? {
        guard scorer == nil else { return nil }
        let what = file.map { "'\($0)'" } ?? "no file mreg recognises"
        if VersionRecord.engineFormats.contains(format) {
            return "\(what) is format \(format): mreg's runtime does not score it; a host serves it on an engine that does "
                + "(mreg reconcile --engine mlserver=URL,repo=DIR), evaluate scores it on data with --engine, and predict refuses it"
        }
        return "\(what) is format unknown: it can be verified, carded, and gated and promoted on its recorded metrics "
            + "(evaluate never scores it on data), but predict and serve refuse it, and a host reports it as not served "
            + "unless the environment's hosts have a serving engine for it"
    }
}

extension Registry {
    /// Files of a version that are never its artifact.
    static let metadataFiles: Set<String> = [MetricsFile.fileName, "baseline.json", "train.log"]
    /// Extensions of model files no runtime here scores, to name the artifact of an `unknown` version.
    static let foreignExtensions: Set<String> = ["pkl", "pickle", "joblib", "pt", "pth", "onnx", "h5", "keras", "pb", "cbm", "safetensors", "bin"]

    /// Recognises the artifact among a version's files by content (or as `format` says) and loads it,
    /// so a hostile or mislabelled model file is refused at registration with the runtime's reason.
    ///
    /// `names` (from `--features` or `model.yaml`) name the inputs of a file that names none; a file that
    /// names its inputs must agree with them.
    /// `declared` (model.yaml's features) names them only when the file does not and `names` is empty.
    public static func describeArtifact(_ files: [String: Data], format: String? = nil, names: [String] = [],
                                        declared: [String] = []) throws -> ArtifactInfo {
        let candidates = files.keys.filter { !metadataFiles.contains($0) && !$0.hasPrefix("evaluations/") }
            .sorted(by: ModelRuntime.searchOrder)
        if format == VersionRecord.unknownFormat { return ArtifactInfo(format: VersionRecord.unknownFormat, file: unknownArtifact(candidates)) }
        if let engine = try engineArtifact(candidates, format: format) { return engine }
        var requested: ModelFormat?
        if let format {
            guard let f = ModelFormat(rawValue: format) else {
                throw RegistryError.invalidInput("--format '\(format)' is not a format (\(VersionRecord.formats.joined(separator: ", ")))")
            }
            requested = f
        }
        var match = candidates.first { path in
            let detected = ModelFormat.detect(files[path]!)
            return detected != nil && (requested == nil || detected == requested)
        }
        if match == nil, requested != nil {
            // A stated format that no file looks like: load the only candidate as it, for the runtime's reason.
            guard candidates.count == 1 else {
                throw RegistryError.invalidInput("no file of the version is a \(format!) model (files: \(candidates.joined(separator: ", ")))")
            }
            match = candidates[0]
        }
        guard let path = match else {
            let artifact = unknownArtifact(candidates)
            try refuseBrokenJSON(candidates, files, artifact: artifact)
            return ArtifactInfo(format: VersionRecord.unknownFormat, file: artifact)
        }
        var scorer: any Scorer
        do {
            scorer = try ModelRuntime.load(files[path]!, format: requested, source: path)
        } catch {
            throw RegistryError.invalidInput(error.description)
        }
        var info = ArtifactInfo(format: scorer.format.rawValue, file: path, scorer: scorer)
        if scorer.namesFeatures {
            let own = scorer.features.map(\.name)
            guard names.isEmpty || own == names else {
                throw RegistryError.invalidInput("'\(path)' names its features (\(own.joined(separator: ", "))); --features or model.yaml list \(names.joined(separator: ", "))")
            }
            return info
        }
        let given = names.isEmpty ? declared : names
        guard !given.isEmpty else { return info }
        do {
            scorer = try RenamedScorer(scorer, names: given)
        } catch {
            throw RegistryError.invalidInput("'\(path)': \(error.description) (from \(names.isEmpty ? "model.yaml" : "--features"))")
        }
        info.scorer = scorer
        info.featureNames = given
        return info
    }

    /// Refuses a version whose artifact would be a JSON file that is no model: a broken `model.json`,
    /// or the only file. A version with a file of a foreign model format (a pickle) is not refused.
    static func refuseBrokenJSON(_ candidates: [String], _ files: [String: Data], artifact: String?) throws {
        if let artifact, foreignExtensions.contains((artifact as NSString).pathExtension.lowercased()) { return }
        for path in candidates where path == "model.json" || candidates.count == 1 {
            guard let why = ModelFormat.refusal(files[path]!, name: path) else { continue }
            throw RegistryError.invalidInput("'\(path)' \(why) (--format unknown registers it as a file no runtime here scores)")
        }
    }

    /// A version only a serving engine runs: an MLflow model folder (an `MLmodel` file at the version's
    /// top) or a scikit-learn `model.joblib`; with `--format sklearn` also a `.pkl`/`.pickle` file. nil
    /// when the version is neither (then its format is recognised by content).
    ///
    /// A pickle is recognised by name, not content: any Python object pickles alike, so only
    /// MLServer's own file name, or the stated format, says that it is a scikit-learn model.
    static func engineArtifact(_ candidates: [String], format: String?) throws -> ArtifactInfo? {
        let pickles = candidates.filter { !$0.contains("/") && ["joblib", "pkl", "pickle"].contains(($0 as NSString).pathExtension.lowercased()) }
        switch format {
        case VersionRecord.mlflowFormat?:
            guard candidates.contains("MLmodel") else {
                throw RegistryError.invalidInput("--format mlflow needs an 'MLmodel' file at the top of the version (files: \(candidates.joined(separator: ", ")))")
            }
            return ArtifactInfo(format: VersionRecord.mlflowFormat, file: "MLmodel")
        case VersionRecord.sklearnFormat?:
            guard let file = pickles.first(where: { $0 == "model.joblib" }) ?? (pickles.count == 1 ? pickles[0] : nil) else {
                throw RegistryError.invalidInput("--format sklearn needs one .joblib, .pkl or .pickle file at the top of the version (files: \(candidates.joined(separator: ", ")))")
            }
            return ArtifactInfo(format: VersionRecord.sklearnFormat, file: file)
        case nil:
            if candidates.contains("MLmodel") { return ArtifactInfo(format: VersionRecord.mlflowFormat, file: "MLmodel") }
            if candidates.contains("model.joblib") { return ArtifactInfo(format: VersionRecord.sklearnFormat, file: "model.joblib") }
            return nil
        default:
            return nil
        }
    }

    /// The file an `unknown` version's artifact most likely is: one with a model file extension, else the only file.
    static func unknownArtifact(_ candidates: [String]) -> String? {
        candidates.first { foreignExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            ?? (candidates.count == 1 ? candidates[0] : nil)
    }

    /// Loads a version's model from the file and format its `version.yaml` records (by content for
    /// versions registered before mreg recorded them), checked against the recorded checksums.
    func loadScorer(snap: Snapshot, model: String, version: String) throws -> LoadedScorer {
        let record = try snap.versionRecord(model, version)
        let dir = Snapshot.versionPath(model, version)
        do {
            let loaded = try ModelRuntime.load(version: record, folder: dir) { path in try snap.data(dir + "/" + path) }
            return LoadedScorer(model: model, version: version, file: loaded.file, scorer: loaded.scorer)
        } catch let error as MLError {
            throw RegistryError.invalidInput(error.description)
        }
    }
}

/// What registration learned from a version's files: its artifact, a baseline from `--data`, the task.
struct DescribedVersion {
    var artifact: ArtifactInfo
    /// Files mreg adds to the version (`baseline.json` from `--data`).
    var extraFiles: [String: Data] = [:]
    var fingerprint: DataFingerprint?
    var target: String?

    /// Records the format, the artifact, the input names and the task the model file states.
    func apply(to record: inout VersionRecord) {
        record.format = artifact.format
        record.artifact = artifact.file
        record.features = artifact.featureNames
        if let scorer = artifact.scorer { record.task = scorer.task.rawValue }
        record.target = record.target ?? target
    }

    /// `spec` with the task, target and features filled in where it names none (as `mreg train` does);
    /// nil when there is no spec and nothing to say.
    func learn(_ spec: ModelSpec?, model: String) -> ModelSpec? {
        let task = artifact.scorer?.task.rawValue
        guard spec != nil || task != nil || target != nil else { return nil }
        var out = spec ?? ModelSpec(name: model)
        out.task = out.task ?? task
        out.target = out.target ?? target
        if out.features.isEmpty, let scorer = artifact.scorer {
            out.features = scorer.features.map { FeatureDeclaration(name: $0.name, type: $0.type.rawValue) }
        }
        return out
    }
}

extension Registry {
    /// Recognises and loads the artifact of `content`, checks its task against `spec`, and with
    /// `content.trainingData` describes that data in the same `baseline.json` the built-in trainers write.
    func describe(_ content: VersionContent, spec: ModelSpec?) throws -> DescribedVersion {
        let declared = spec?.features.map(\.name) ?? []
        let artifact = try Registry.describeArtifact(content.files, format: content.format, names: content.featureNames, declared: declared)
        var out = DescribedVersion(artifact: artifact, target: content.target ?? spec?.target)
        if let scorer = artifact.scorer, let stated = spec?.task, stated != scorer.task.rawValue {
            throw RegistryError.invalidInput("model.yaml says task '\(stated)' but '\(artifact.file ?? "")' (\(artifact.format)) does \(scorer.task.rawValue)")
        }
        if let target = content.target, let stated = spec?.target, target != stated {
            throw RegistryError.invalidInput("--target '\(target)' differs from model.yaml's target '\(stated)'")
        }
        guard let path = content.trainingData else { return out }
        if content.baselineIfPossible, artifact.scorer == nil || out.target == nil || content.files["baseline.json"] != nil { return out }
        guard let scorer = artifact.scorer else {
            throw RegistryError.invalidInput("--data needs a model mreg can read to know its inputs; \(artifact.note ?? "")")
        }
        guard let target = out.target else {
            throw RegistryError.invalidInput("--data needs --target (or target in model.yaml) to describe the target in baseline.json")
        }
        guard content.files["baseline.json"] == nil else {
            throw RegistryError.invalidInput("the version's files hold a baseline.json already; drop --data or the file")
        }
        let (bytes, table) = try Registry.readTable(path)
        do {
            let baseline = try Baseline.make(features: scorer.features, target: target, task: scorer.task, table: table)
            out.extraFiles["baseline.json"] = baseline.encoded(pretty: true)
        } catch {
            throw RegistryError.invalidInput(error.description)
        }
        out.fingerprint = DataFingerprint(role: "train", path: path, sha256: SHA256.hex(bytes), rows: table.rowCount, columns: table.columnNames)
        return out
    }
}
