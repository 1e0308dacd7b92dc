import MregCore

/// How one model version is served on KServe: the `modelFormat`, the serving runtime and whether
/// `storageUri` names the version's folder or its one model file.
public struct KServeServing: Sendable, Equatable {
    public var modelFormat: String
    public var runtime: String
    /// True: `storageUri` is the version's folder; false: the artifact file alone (KServe's own
    /// servers refuse a folder holding more than one file they could load).
    public var folder: Bool

    public init(modelFormat: String, runtime: String, folder: Bool) {
        self.modelFormat = modelFormat
        self.runtime = runtime
        self.folder = folder
    }

    /// The ClusterServingRuntime `mreg render` writes for `mreg serve`.
    public static let mregRuntime = "mreg"

    /// KServe's built-in ClusterServingRuntimes that speak the Open Inference Protocol (v2).
    public static let builtIns: Set<String> = [
        "kserve-sklearnserver", "kserve-xgbserver", "kserve-lgbserver", "kserve-mlserver", "kserve-tritonserver",
        "kserve-huggingfaceserver", "kserve-torchserve", "kserve-paddleserver", "kserve-pmmlserver",
    ]

    /// The formats the mreg runtime scores natively, by their KServe `modelFormat` names.
    public static let mregFormats: Set<String> = ["mreg", "xgboost", "lightgbm"]

    /// A `version.yaml` format as KServe names model formats (`xgboost-json` is `xgboost`).
    public static func kserveFormat(_ format: String?) -> String {
        switch format {
        case nil, "mreg"?: return "mreg"
        case "xgboost-json"?, "xgboost-ubjson"?, "xgboost"?: return "xgboost"
        case "lightgbm-text"?, "lightgbm"?: return "lightgbm"
        case let other?: return other
        }
    }

    /// Chooses how to serve a version of `format` whose main file is `artifact`; `override` is the
    /// manifest's `kubernetes.runtime`. Errors say why KServe cannot serve it and what to do.
    public static func choose(format: String?, artifact: String?, override: String?, model: String) throws(RenderError) -> KServeServing {
        let format = kserveFormat(format)
        let file = artifact.map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        let ext = file.split(separator: ".").count > 1 ? "." + (file.split(separator: ".").last.map(String.init) ?? "") : ""
        if let override {
            if override == mregRuntime {
                guard mregFormats.contains(format) else {
                    throw .unservable(model, "the mreg runtime does not score format '\(format)' (it scores \(mregFormats.sorted().joined(separator: ", ")))")
                }
                return KServeServing(modelFormat: format, runtime: mregRuntime, folder: true)
            }
            // A runtime of the user's: KServe's own servers load one file, the others a folder.
            return KServeServing(modelFormat: format, runtime: override, folder: !builtIns.contains(override) || format == "mlflow")
        }
        switch format {
        case "mreg":
            return KServeServing(modelFormat: "mreg", runtime: mregRuntime, folder: true)
        case "xgboost":
            // kserve-xgbserver loads .bst, .json or .ubj; anything else is scored by mreg itself.
            if [".bst", ".json", ".ubj"].contains(ext) { return KServeServing(modelFormat: "xgboost", runtime: "kserve-xgbserver", folder: false) }
            return KServeServing(modelFormat: "xgboost", runtime: mregRuntime, folder: true)
        case "lightgbm":
            // kserve-lgbserver loads only model.bst.
            if file == "model.bst" { return KServeServing(modelFormat: "lightgbm", runtime: "kserve-lgbserver", folder: false) }
            return KServeServing(modelFormat: "lightgbm", runtime: mregRuntime, folder: true)
        case "sklearn":
            guard [".joblib", ".pkl", ".pickle"].contains(ext) else {
                throw .unservable(model, "kserve-sklearnserver loads a .joblib, .pkl or .pickle file, and the artifact is '\(file)'")
            }
            return KServeServing(modelFormat: "sklearn", runtime: "kserve-sklearnserver", folder: false)
        case "mlflow":
            return KServeServing(modelFormat: "mlflow", runtime: "kserve-mlserver", folder: true)
        default:
            throw .unservable(model, "no KServe runtime is known for format '\(format)'; name one in the manifest (models.\(model).kubernetes.runtime)")
        }
    }
}

/// Why `mreg render` cannot render an environment.
public enum RenderError: Error, CustomStringConvertible, Equatable {
    case unservable(String, String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unservable(let model, let why): return "model '\(model)' cannot be rendered for KServe: \(why)"
        case .invalid(let message): return message
        }
    }
}
