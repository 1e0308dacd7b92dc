import Foundation
import MregCore
import MregML

/// Loads, swaps and unloads model versions: the model repository side of the server.
///
/// Every change runs on one serial queue, off the event loops: a new version is read, validated and
/// warmed while the old one keeps serving, then one new `ServingTable` is published. Requests that
/// already picked a version finish on it, since they hold it.
final class ModelManager: @unchecked Sendable {
    let store: Store
    let router: TableRouter
    let metrics: ServerMetrics
    private let queue = DispatchQueue(label: "mreg.serve.repository")

    // Touched only on `queue` (or before the server starts).
    /// Warm versions by `model/version`, kept while a state names them.
    private var loaded: [String: LoadedVersion] = [:]
    /// What each model serves now (also what its serving.json says).
    private var states: [String: ServingState] = [:]
    /// Models told to serve something that could not be loaded, with the reason.
    private var failures: [String: String] = [:]
    /// Why a version last failed to load, for the index.
    private var loadErrors: [String: String] = [:]

    init(store: Store, router: TableRouter, metrics: ServerMetrics) {
        self.store = store
        self.router = router
        self.metrics = metrics
    }

    // MARK: Start-up

    /// Loads what the state files say (or the only version of a model without one) and publishes it.
    /// Problems are reported through `log` and make the server not ready; they do not stop it.
    func loadAtStart(log: (String) -> Void) {
        for model in store.models() {
            do {
                let state: ServingState
                if let saved = try store.readState(model) {
                    guard saved.version != nil else {
                        states[model] = saved
                        continue
                    }
                    state = saved
                } else {
                    let versions = store.versions(model)
                    guard versions.count == 1 else {
                        if versions.count > 1 {
                            log("model '\(model)' has \(versions.count) versions and no serving.json: not loaded until a load call names one")
                        }
                        continue
                    }
                    state = ServingState(version: versions[0])
                }
                try apply(model, state, persist: false)
            } catch {
                failures[model] = error.description
                log(error.description)
            }
        }
        publish()
    }

    // MARK: Repository calls

    /// `POST /v2/repository/models/NAME/load`: sets the whole serving state of the model.
    func load(_ model: String, parameters: JSONValue?) async throws(ServerError) -> JSONValue {
        try await onQueue { () throws(ServerError) -> JSONValue in
            try self.checkName(model)
            guard self.store.hasModel(model) else { throw .notInStore(model: model, version: nil) }
            let state = try self.requestedState(model, parameters)
            let reload = try self.reloadParameter(parameters, state: state)
            do throws(ServerError) {
                try self.apply(model, state, persist: true, reload: reload)
            } catch {
                self.metrics.repository.add(0)
                throw error
            }
            self.failures[model] = nil
            self.publish()
            return self.describe(model)
        }
    }

    /// `POST /v2/repository/models/NAME/unload`: stops serving the model and records that in serving.json.
    func unload(_ model: String) async throws(ServerError) -> JSONValue {
        try await onQueue { () throws(ServerError) -> JSONValue in
            try self.checkName(model)
            let serving = self.states[model]?.version != nil
            guard serving || self.failures[model] != nil else { throw .unknownModel(model) }
            try self.store.writeState(model, ServingState(version: nil))
            self.states[model] = ServingState(version: nil)
            self.failures[model] = nil
            self.publish()
            self.metrics.repository.add(2)
            return ["name": .string(model), "state": "UNLOADED"]
        }
    }

    /// `POST /v2/repository/index`: every version in the store and whether it is served.
    func index(readyOnly: Bool) async -> JSONValue {
        let result = try? await onQueue { () throws(ServerError) -> JSONValue in
            var rows = [JSONValue]()
            for model in self.store.models() {
                let state = self.states[model]
                for version in self.store.versions(model) {
                    var row: [String: JSONValue] = ["name": .string(model), "version": .string(version)]
                    if state?.version == version {
                        row["state"] = "READY"
                        row["role"] = "stable"
                        row["reason"] = ""
                    } else if state?.canaryVersion == version, let state {
                        row["state"] = "READY"
                        row["role"] = "canary"
                        row["canary_weight"] = .number(Double(state.canaryWeight))
                        row["reason"] = ""
                    } else {
                        row["state"] = "UNAVAILABLE"
                        row["reason"] = .string(self.loadErrors[model + "/" + version] ?? "not loaded")
                    }
                    if readyOnly && row["state"] != "READY" { continue }
                    rows.append(.object(row))
                }
            }
            return .array(rows)
        }
        return result ?? []
    }

    // MARK: Internals

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws(ServerError) -> T) async throws(ServerError) -> T {
        let result: Result<T, ServerError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(ServerError) -> T in try body() })
            }
        }
        return try result.get()
    }

    private func checkName(_ model: String) throws(ServerError) {
        guard Names.isValidModelName(model) else {
            throw .invalidRequest("invalid model name '\(ServerError.clip(model))': use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
    }

    static let loadParameters = ["version", "canary_version", "canary_weight", "reload"]

    /// `parameters.reload`: versions of the requested state to read again from the store although
    /// they are loaded (their folder was rewritten: a history rewrite redefined them, or the files
    /// were repaired). The new one replaces the old in one swap, so nothing fails meanwhile.
    private func reloadParameter(_ body: JSONValue?, state: ServingState) throws(ServerError) -> Set<String> {
        guard let value = body?["parameters"]?["reload"], !value.isNull else { return [] }
        guard let items = value.arrayValue else { throw .invalidRequest("parameter 'reload' must be a list of version names") }
        var out = Set<String>()
        for item in items {
            guard let v = item.stringValue, Names.versionNumber(v) != nil, v == state.version || v == state.canaryVersion else {
                throw .invalidRequest("parameter 'reload' may name only the versions being loaded")
            }
            out.insert(v)
        }
        return out
    }

    /// The state a load call asks for: `version` (default: the one served now, or the only one in the
    /// store), and optionally `canary_version` with `canary_weight` (0-100). Leaving the canary out
    /// removes it: a load call states the whole serving state.
    private func requestedState(_ model: String, _ body: JSONValue?) throws(ServerError) -> ServingState {
        var params: [String: JSONValue] = [:]
        if let body, !body.isNull {
            guard case .object(let o) = body else { throw .invalidRequest("load body must be a JSON object") }
            for key in o.keys where key != "parameters" {
                throw .invalidRequest("unknown field '\(ServerError.clip(key))' in load body (expected 'parameters')")
            }
            if let p = o["parameters"], !p.isNull {
                guard case .object(let po) = p else { throw .invalidRequest("'parameters' must be an object") }
                params = po
            }
        }
        for key in params.keys.sorted() where !ModelManager.loadParameters.contains(key) {
            throw .invalidRequest("unknown parameter '\(ServerError.clip(key))' (known: \(ModelManager.loadParameters.joined(separator: ", ")))")
        }
        func versionParam(_ key: String) throws(ServerError) -> String? {
            guard let v = params[key], !v.isNull else { return nil }
            guard let s = v.stringValue, Names.versionNumber(s) != nil else {
                throw .invalidRequest("parameter '\(key)' must be a version name like \"v3\"")
            }
            return s
        }
        var version = try versionParam("version")
        let canary = try versionParam("canary_version")
        var weight: Int?
        if let w = params["canary_weight"], !w.isNull {
            // Accept 10 and "10": KServe clients send parameters as strings as often as numbers.
            let d = w.doubleValue ?? w.stringValue.flatMap(Double.init)
            guard let d, d == d.rounded(), (0...100).contains(d) else {
                throw .invalidRequest("parameter 'canary_weight' must be a whole number from 0 to 100")
            }
            weight = Int(d)
        }
        if canary != nil && weight == nil { throw .invalidRequest("parameter 'canary_weight' is required with 'canary_version'") }
        if canary == nil && weight != nil { throw .invalidRequest("parameter 'canary_weight' needs 'canary_version'") }
        if version == nil {
            if let current = states[model]?.version {
                version = current
            } else {
                let versions = store.versions(model)
                guard versions.count == 1 else {
                    throw .invalidRequest(versions.isEmpty
                        ? "model '\(model)' has no version folder in the store"
                        : "model '\(model)' has \(versions.count) versions in the store: name one with parameters.version")
                }
                version = versions[0]
            }
        }
        if let canary, canary == version {
            throw .invalidRequest("'canary_version' \(canary) is the same as 'version'")
        }
        return ServingState(version: version, canaryVersion: canary, canaryWeight: weight ?? 0)
    }

    /// Loads (or reuses) the versions a state names, then records the state; nothing changes on failure.
    private func apply(_ model: String, _ state: ServingState, persist: Bool, reload: Set<String> = []) throws(ServerError) {
        guard let version = state.version else { return }
        _ = try warmVersion(model, version, fresh: reload.contains(version))
        if let canary = state.canaryVersion { _ = try warmVersion(model, canary, fresh: reload.contains(canary)) }
        if persist { try store.writeState(model, state) }
        states[model] = state
        metrics.repository.add(1)
    }

    /// A warm version from the cache, or read, validated and warmed now; `fresh` reads it again
    /// even when cached, and the cached one stays if that fails.
    private func warmVersion(_ model: String, _ version: String, fresh: Bool = false) throws(ServerError) -> LoadedVersion {
        let key = model + "/" + version
        if !fresh, let v = loaded[key] { return v }
        do throws(ServerError) {
            let m = try store.loadScorer(model, version)
            let v = LoadedVersion(name: model, version: version, model: m, stats: metrics.stats(model: model, version: version))
            v.warm()
            loaded[key] = v
            loadErrors[key] = nil
            return v
        } catch {
            loadErrors[key] = error.description
            throw error
        }
    }

    /// Builds the table from the states and publishes it; versions no state names are let go.
    private func publish() {
        var models = [String: ModelEntry]()
        var keep = Set<String>()
        for (model, state) in states {
            guard let v = state.version, let stable = loaded[model + "/" + v] else { continue }
            keep.insert(model + "/" + v)
            var canary: Canary?
            if let cv = state.canaryVersion, let c = loaded[model + "/" + cv] {
                canary = Canary(version: c, weight: state.canaryWeight)
                keep.insert(model + "/" + cv)
            }
            models[model] = ModelEntry(stable: stable, canary: canary)
        }
        loaded = loaded.filter { keep.contains($0.key) }
        router.publish(ServingTable(models: models, failures: failures))
    }

    /// The load call's answer: what the model serves now.
    private func describe(_ model: String) -> JSONValue {
        guard let state = states[model], let version = state.version else { return ["name": .string(model)] }
        var o: [String: JSONValue] = ["name": .string(model), "version": .string(version), "state": "READY"]
        if let c = state.canaryVersion {
            o["canary"] = ["version": .string(c), "weight": .number(Double(state.canaryWeight))]
        }
        return .object(o)
    }
}
