import Foundation
import MregCore
import MregGit

/// An engine other than mreg serve, as the reconciler holds it: its client, and the store of version
/// folders it keeps inside the engine's model repository.
struct EngineHost: Sendable {
    let engine: Engine
    let client: ServerClient
    /// `REPO/.mreg-versions/MODEL/VERSION/`: hidden from MLServer's scan, which skips dot folders.
    let versions: HostStore
    var repository: String { engine.repository! }

    init(_ engine: Engine, timeout: TimeInterval) throws {
        self.engine = engine
        client = ServerClient(baseURL: engine.url, token: nil, timeout: timeout)
        versions = try HostStore(root: engine.repository! + "/.mreg-versions")
        removeLeftoverProbes()
    }

    /// Removes probe folders a crash left between probe and switch (only mreg's), so a restarted
    /// MLServer never loads one from its repository.
    func removeLeftoverProbes() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repository)) ?? []
        for name in names where name.hasSuffix(EngineHost.probeSuffix) && writtenVersion(name) != nil {
            try? writeSettings(name, nil)
        }
    }

    /// `REPO/MODEL/model-settings.json`: the one file MLServer reads for a model.
    func settingsPath(_ name: String) -> String { repository + "/" + name + "/model-settings.json" }

    /// The probe a new version is tried under before it takes the model's name.
    static func probeName(_ model: String) -> String { model + probeSuffix }
    static let probeSuffix = "~mreg-probe"

    /// The runtime class MLServer loads a format with.
    static func implementation(_ format: String?) -> String? {
        switch format {
        case VersionRecord.sklearnFormat?: return "mlserver_sklearn.SKLearnModel"
        case VersionRecord.mlflowFormat?: return "mlserver_mlflow.MLflowRuntime"
        case "xgboost-json"?, "xgboost-ubjson"?: return "mlserver_xgboost.XGBoostModel"
        case "lightgbm-text"?: return "mlserver_lightgbm.LightGBMModel"
        default: return nil
        }
    }

    /// The `model-settings.json` that serves `record` under `name`. It names no `parameters.version`:
    /// MLServer then replaces a loaded model by loading the new one before unloading the old, while a
    /// new version number would become the default as soon as it is registered, before it is ready.
    /// mreg's own record of what it wrote is `parameters.extra.mreg`.
    func settings(_ name: String, _ record: VersionRecord, commit: String) -> Data? {
        guard let implementation = EngineHost.implementation(record.format), let artifact = record.artifact else { return nil }
        let folder = versions.versionPath(record.model, record.version)
        // An MLflow model is its folder; the other runtimes read the model file.
        let uri = record.format == VersionRecord.mlflowFormat ? folder : folder + "/" + artifact
        let json: JSONValue = [
            "name": .string(name), "implementation": .string(implementation),
            "parameters": [
                "uri": .string(uri),
                "extra": ["mreg": ["model": .string(record.model), "version": .string(record.version), "commit": .string(commit)]],
            ],
        ]
        var data = json.encoded(pretty: true)
        data.append(0x0A)
        return data
    }

    /// The mreg version a settings file mreg wrote serves; nil when absent or not mreg's.
    func writtenVersion(_ name: String) -> (version: String, data: Data)? {
        guard let data = FileManager.default.contents(atPath: settingsPath(name)),
              let json = try? JSONValue.parse(data),
              let version = json["parameters"]?["extra"]?["mreg"]?["version"]?.stringValue else { return nil }
        return (version, data)
    }

    /// Models whose settings mreg wrote in the repository (probes excluded).
    func managedModels() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repository)) ?? []
        return names.filter { Names.isValidModelName($0) && writtenVersion($0) != nil }.sorted()
    }

    /// Writes (or, with nil, removes) a model's settings; the folder is made or removed with it.
    func writeSettings(_ name: String, _ data: Data?) throws {
        let folder = repository + "/" + name
        guard let data else {
            if FileManager.default.fileExists(atPath: folder) { try FileManager.default.removeItem(atPath: folder) }
            return
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try versions.writeAtomically(settingsPath(name), data)
    }
}

/// One change to an engine's repository and serving state.
enum EngineStep: Sendable {
    /// Write a version's files into the engine's version store.
    case stage(model: String, version: String)
    /// Serve `version` under the model's name: probe it first when it is new, then switch.
    case serve(model: String, version: String, probe: Bool)
    /// Unload a model the revision no longer routes here, and remove its settings.
    case retire(model: String)
    /// Remove a version folder no longer wanted.
    case remove(model: String, version: String)

    var text: String {
        switch self {
        case .stage(let m, let v): return "write \(m)@\(v)"
        case .serve(let m, let v, let probe): return probe ? "serve \(m) \(v)" : "reload \(m) \(v)"
        case .retire(let m): return "unload \(m)"
        case .remove(let m, let v): return "remove \(m)@\(v)"
        }
    }
}

extension Reconciler {
    /// What engine `host` serves of the models whose settings mreg wrote: the written version, when
    /// the engine says the model is ready.
    func engineServing(_ host: EngineHost) async throws -> [String: ServingTarget] {
        var out = [String: ServingTarget]()
        for name in host.managedModels() {
            guard let written = host.writtenVersion(name) else { continue }
            let ready: Bool
            do {
                ready = try await host.client.isModelReady(name)
            } catch {
                throw TransientError(description: "engine '\(host.engine.kind.rawValue)' at \(host.engine.url): \(error)")
            }
            if ready { out[name] = ServingTarget(version: written.version) }
        }
        return out
    }

    /// The steps that make `host` serve `revision` (already restricted to the models routed to it).
    func planEngine(_ host: EngineHost, _ revision: Revision, serving: [String: ServingTarget]) -> (steps: [EngineStep], failed: [String: String]) {
        var steps = [EngineStep]()
        var failed = [String: String]()
        var wanted = [String: Set<String>]()
        var staged = Set<String>()
        for model in revision.models.keys.sorted() {
            let target = revision.models[model]!
            if let failure = modelFailures[model], failure.target == target {
                failed[model] = failure.reason
                wanted[model, default: []].formUnion(serving[model]?.versions ?? [])
                continue
            }
            let record = revision.records[model + "/" + target.version]!
            if host.writtenVersion(model) == nil, FileManager.default.fileExists(atPath: host.settingsPath(model)) {
                failed[model] = "'\(host.settingsPath(model))' was not written by mreg; mreg replaces nothing it did not create (move it away)"
                continue
            }
            wanted[model, default: []].insert(target.version)
            switch host.versions.check(model, target.version, files: record.files) {
            case .intact: break
            case .missing, .damaged:
                steps.append(.stage(model: model, version: target.version))
                staged.insert(model)
            case .foreign:
                failed[model] = "'\(host.versions.versionPath(model, target.version))' was not placed by mreg and differs from the registry; move it away"
                continue
            }
            let desired = host.settings(model, record, commit: revision.commit.hex)
            let written = host.writtenVersion(model)
            if written?.data != desired {
                steps.append(.serve(model: model, version: target.version, probe: true))
            } else if serving[model] != target || staged.contains(model) {
                steps.append(.serve(model: model, version: target.version, probe: false))
            }
        }
        for model in host.managedModels() where revision.models[model] == nil {
            steps.append(.retire(model: model))
        }
        for (model, versions) in host.versions.managedVersions().sorted(by: { $0.key < $1.key }) {
            for version in versions.sorted() where !(wanted[model]?.contains(version) ?? false) {
                steps.append(.remove(model: model, version: version))
            }
        }
        return (steps, failed)
    }

    /// Carries out the steps; a model the engine refuses is put back as it was and returned with the
    /// reason, while the others go on. An engine that does not answer stops the pass (transient).
    func applyEngine(_ host: EngineHost, _ steps: [EngineStep], _ revision: Revision) async throws -> [String: String] {
        var failed = [String: String]()
        for step in steps {
            switch step {
            case .stage(let model, let version):
                do {
                    let path = try stage(model, version, revision, into: host.versions)
                    try host.versions.install(path, model: model, version: version)
                    board.update { $0.counters.materialized += 1 }
                } catch let transient as TransientError {
                    throw transient
                } catch {
                    failed[model] = "\(error)"
                }
            case .serve(let model, let version, let probe) where failed[model] == nil:
                do {
                    try await switchEngineModel(host, model, version, revision, probe: probe)
                    board.update { $0.counters.loads += 1 }
                } catch let rejected as RevisionRejected {
                    failed[model] = rejected.reason
                }
            case .retire(let model):
                try await engineCall(host, "unload \(model)") { try await host.client.unload(model) }
                try? host.writeSettings(model, nil)
                board.update { $0.counters.unloads += 1 }
            case .remove(let model, let version) where failed[model] == nil:
                try? host.versions.remove(model, version)
                host.versions.removeModelIfEmpty(model)
            default: break
            }
        }
        return failed
    }

    /// Probes a new version under a name of its own (load, ready, one inference, unload), then writes
    /// the model's settings and has the engine load them; a refusal puts the previous settings back.
    private func switchEngineModel(_ host: EngineHost, _ model: String, _ version: String, _ revision: Revision, probe: Bool) async throws {
        let record = revision.records[model + "/" + version]!
        let features = revision.specs[model]?.features ?? []
        if probe {
            let name = EngineHost.probeName(model)
            do {
                try host.writeSettings(name, host.settings(name, record, commit: revision.commit.hex))
            } catch {
                throw RevisionRejected("cannot write the probe settings of \(model)@\(version): \(error)")
            }
            defer { try? host.writeSettings(name, nil) }
            do {
                try await engineCheck(host, name, "\(model)@\(version)", features: features)
            } catch {
                _ = try? await host.client.unload(name)
                throw error
            }
            try await engineCall(host, "unload probe of \(model)@\(version)") { try await host.client.unload(name) }
        }
        let previous = host.writtenVersion(model)?.data
        do {
            try host.writeSettings(model, host.settings(model, record, commit: revision.commit.hex))
            try await engineCheck(host, model, "\(model)@\(version)", features: features)
        } catch let rejected as RevisionRejected {
            board.update { $0.counters.rollbacks += 1 }
            try? host.writeSettings(model, previous)
            if previous != nil { _ = try? await host.client.loadFromRepository(model) } else { _ = try? await host.client.unload(model) }
            throw rejected
        } catch let transient as TransientError {
            throw transient
        } catch {
            throw RevisionRejected("cannot write the settings of \(model)@\(version): \(error)")
        }
    }

    /// Load, ready, one inference, under `name`.
    private func engineCheck(_ host: EngineHost, _ name: String, _ what: String, features: [FeatureDeclaration]) async throws {
        let engine = host.engine.kind.rawValue
        try await engineCall(host, "\(engine) load of \(what)") { try await host.client.loadFromRepository(name) }
        let ready = try await engineCall(host, "ready \(what)") { try await host.client.isModelReady(name) }
        guard ready else { throw RevisionRejected("\(what) is not ready on \(engine) after loading") }
        try await engineCall(host, "smoke test of \(what) on \(engine)") { try await host.client.smokeTest(name, features: features) }
    }

    /// Runs an engine call; a refusal rejects the model, no answer is a transient error.
    private func engineCall<T>(_ host: EngineHost, _ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch ServerCallError.unreachable(let why) {
            throw TransientError(description: "\(what): engine '\(host.engine.kind.rawValue)' at \(host.engine.url) unreachable: \(why)")
        } catch ServerCallError.refused(_, let message) {
            throw RevisionRejected("\(what) failed: \(message)")
        }
    }
}
