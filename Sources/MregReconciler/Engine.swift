import Foundation
import MregCore

/// A serving engine a host's reconciler drives through the Open Inference Protocol: mreg's own
/// server, or MLServer with the model repository folder it was started on.
public struct Engine: Sendable, Equatable, CustomStringConvertible {
    /// The engines mreg knows how to drive.
    public enum Kind: String, Sendable, CaseIterable {
        /// `mreg serve`: the store layout, canary weights, reload of rewritten versions.
        case mreg
        /// MLServer: `model-settings.json` per model, one version served at a time, no traffic split.
        case mlserver
    }

    public var kind: Kind
    /// The engine's base URL (`http://127.0.0.1:8081`).
    public var url: String
    /// MLServer's model repository (the folder given to `mlserver start`), written by the reconciler.
    public var repository: String?
    /// The `version.yaml` formats this engine serves, in the order given.
    public var formats: [String]

    public init(kind: Kind, url: String, repository: String? = nil, formats: [String]? = nil) {
        self.kind = kind
        self.url = url
        self.repository = repository
        self.formats = formats ?? Engine.defaultFormats(kind)
    }

    /// What each engine serves unless told otherwise: mreg its runtime's formats; MLServer its
    /// runtimes' (scikit-learn, MLflow, XGBoost, LightGBM).
    public static func defaultFormats(_ kind: Kind) -> [String] {
        switch kind {
        case .mreg: return VersionRecord.nativeFormats
        case .mlserver: return [VersionRecord.sklearnFormat, VersionRecord.mlflowFormat, "xgboost-json", "xgboost-ubjson", "lightgbm-text"]
        }
    }

    /// Whether the engine splits a model's traffic between two versions (canary weights).
    public var splitsTraffic: Bool { kind == .mreg }

    /// Whether this engine serves a version recorded with `format` (nil: an old version, read by content).
    public func serves(_ format: String?) -> Bool {
        formats.contains(format ?? VersionRecord.nativeFormats[0]) || (format == nil && kind == .mreg)
    }

    /// `mlserver=http://127.0.0.1:8081,repo=/var/lib/mlserver/models`.
    public var description: String {
        var text = "\(kind.rawValue)=\(url)"
        if let repository { text += ",repo=\(repository)" }
        if formats != Engine.defaultFormats(kind) { text += ",formats=" + formats.joined(separator: "+") }
        return text
    }

    /// Parses `KIND=URL[,repo=PATH][,formats=F+F…]`, as `mreg reconcile --engine` takes it.
    public static func parse(_ text: String) throws(EngineError) -> Engine {
        guard let eq = text.firstIndex(of: "=") else {
            throw EngineError("engine '\(text)' is not KIND=URL (for example mlserver=http://127.0.0.1:8081,repo=/var/lib/mlserver/models)")
        }
        let name = String(text[..<eq])
        guard let kind = Kind(rawValue: name) else {
            throw EngineError("engine '\(name)' is not one mreg drives (\(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var parts = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let url = parts.removeFirst()
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw EngineError("engine '\(name)': '\(url)' is not an http:// or https:// URL")
        }
        var repository: String?
        var formats: [String]?
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[1].isEmpty else { throw EngineError("engine '\(name)': '\(part)' is not KEY=VALUE (repo=, formats=)") }
            switch pair[0] {
            case "repo" where repository == nil: repository = pair[1]
            case "formats" where formats == nil:
                let list = pair[1].split(separator: "+").map(String.init)
                formats = list
            default: throw EngineError("engine '\(name)': '\(pair[0])' is not an option or is given twice (repo=, formats=)")
            }
        }
        if kind == .mlserver && repository == nil {
            throw EngineError("engine 'mlserver' needs repo=DIR, the model repository it was started on (mlserver start DIR)")
        }
        if kind == .mreg && repository != nil {
            throw EngineError("engine 'mreg' takes no repo=: mreg serve reads the reconciler's --store")
        }
        if let bad = formats?.first(where: { !defaultFormats(kind).contains($0) }) {
            throw EngineError("engine '\(name)' cannot serve format '\(bad)' (it serves \(defaultFormats(kind).joined(separator: ", ")))")
        }
        return Engine(kind: kind, url: url, repository: repository, formats: formats)
    }

    /// Checks a host's engines as a whole: at most one of each kind.
    public static func validate(_ engines: [Engine]) throws(EngineError) {
        for kind in Kind.allCases where engines.filter({ $0.kind == kind }).count > 1 {
            throw EngineError("engine '\(kind.rawValue)' is given twice; a host drives one of each")
        }
    }
}

/// An engine configuration that cannot be used.
public struct EngineError: Error, Equatable, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Which engine serves each model a revision asks this host for.
struct EngineRoutes: Sendable {
    /// Model -> the engine (index into the configuration's engines) that serves all its versions.
    var engine: [String: Int] = [:]
    /// Models no configured engine serves, with the reason.
    var unserved: [String: String] = [:]

    /// The first configured engine that serves the format of every version of each model; a canary
    /// on an engine that cannot split traffic is refused for that model.
    init(_ revision: Revision, engines: [Engine]) {
        for (model, target) in revision.models {
            let records = target.versions.map { revision.records[model + "/" + $0]! }
            guard let index = engines.firstIndex(where: { e in records.allSatisfy { e.serves($0.format) } }) else {
                let r = records.first { r in !engines.contains { $0.serves(r.format) } } ?? records[0]
                let format = r.format ?? VersionRecord.nativeFormats[0]
                unserved[model] = records.count > 1 && engines.contains(where: { $0.serves(r.format) })
                    ? "\(model): no engine on this host serves both versions' formats (\(records.map { $0.format ?? "mreg" }.joined(separator: ", ")))"
                    : "\(model)@\(r.version) is format '\(format)'\(r.artifact.map { " ('\($0)')" } ?? ""): no runtime on this host serves it"
                continue
            }
            if let canary = target.canary, !engines[index].splitsTraffic {
                unserved[model] = "\(model): engine '\(engines[index].kind.rawValue)' cannot split traffic, so canary \(canary.version) at \(canary.weight)% is refused; promote \(canary.version) as the version instead"
                continue
            }
            engine[model] = index
        }
    }

    /// The part of `revision` that engine `index` serves, and the models no engine serves as asked
    /// (each engine leaves those as they are: they are failed, never unloaded).
    func restrict(_ revision: Revision, to index: Int) -> Revision {
        var out = revision
        out.models = revision.models.filter { engine[$0.key] == index || unserved[$0.key] != nil }
        // Only the whole revision being empty means "serve nothing".
        out.allowEmpty = revision.allowEmpty || !revision.models.isEmpty
        return out
    }
}
