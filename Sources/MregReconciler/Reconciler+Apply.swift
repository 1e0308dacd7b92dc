import Foundation
import MregCore
import MregGit
import MregML

/// What a pass must change on the host to match a revision.
struct Plan: Sendable {
    /// Version folders to write: missing, or placed by mreg and since changed.
    var materialize: [(model: String, version: String, reason: String)] = []
    /// Models whose serving state must change, with the target.
    var loads: [(model: String, target: ServingTarget)] = []
    /// Versions the server serves whose folders are being rewritten (main's history redefined them,
    /// or their files were changed on disk): the server must read them again, whatever their name.
    var reloads: [String: [String]] = [:]
    /// mreg's models that the revision no longer names on this host.
    var unloads: [String] = []
    /// mreg's version folders no longer wanted (removed after the switch).
    var removals: [(model: String, version: String)] = []
    /// Set when the revision must not be applied at all.
    var refusal: String?
    /// Models this host leaves as they are, with the reason: it cannot load what the revision asks
    /// for (a format no runtime here scores, or a load that failed for this very target before).
    var failed: [String: String] = [:]

    var isEmpty: Bool { materialize.isEmpty && loads.isEmpty && unloads.isEmpty && removals.isEmpty }

    var summary: String {
        var parts = [String]()
        if !materialize.isEmpty { parts.append("write " + materialize.map { "\($0.model)@\($0.version)" }.joined(separator: ", ")) }
        if !loads.isEmpty { parts.append("serve " + loads.map { "\($0.model) \($0.target)" }.joined(separator: ", ")) }
        if !reloads.isEmpty { parts.append("reload " + reloads.keys.sorted().flatMap { m in reloads[m]!.map { "\(m)@\($0)" } }.joined(separator: ", ")) }
        if !unloads.isEmpty { parts.append("unload " + unloads.joined(separator: ", ")) }
        if !removals.isEmpty { parts.append("remove " + removals.map { "\($0.model)@\($0.version)" }.joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }
}

extension Reconciler {
    /// Compares the revision with the store and the server.
    func makePlan(_ revision: Revision, serving: [String: ServingTarget]) throws -> Plan {
        var plan = Plan()
        let managed = store.managedVersions()
        if revision.models.isEmpty && !revision.allowEmpty && (!managed.isEmpty || serving.keys.contains(where: { managed[$0] != nil })) {
            plan.refusal = "deploy/\(configuration.environment).yaml would leave host '\(configuration.host)' serving nothing; set 'allowEmpty: true' to allow it"
            return plan
        }
        for model in revision.models.keys.sorted() {
            let target = revision.models[model]!
            if let reason = unservable(model, target, revision) {
                plan.failed[model] = reason
                continue
            }
            for version in target.versions {
                let record = revision.records[model + "/" + version]!
                switch store.check(model, version, files: record.files) {
                case .intact: break
                case .missing: plan.materialize.append((model, version, "missing"))
                case .damaged(let why):
                    plan.materialize.append((model, version, why))
                    // Content, not the name, decides: a served version whose files change is read again.
                    if serving[model]?.versions.contains(version) == true { plan.reloads[model, default: []].append(version) }
                case .foreign:
                    plan.refusal = "store folder '\(model)/\(version)' was not placed by mreg and differs from the registry; move it away"
                    return plan
                }
            }
            if serving[model] != target || plan.reloads[model] != nil { plan.loads.append((model, target)) }
        }
        for model in managed.keys.sorted() {
            // A model left as it is keeps the folders of what it serves.
            let kept = plan.failed[model] != nil ? serving[model]?.versions ?? [] : []
            let wanted = Set((revision.models[model]?.versions ?? []) + kept)
            if revision.models[model] == nil && serving[model] != nil { plan.unloads.append(model) }
            for version in managed[model]!.sorted() where !wanted.contains(version) {
                plan.removals.append((model, version))
            }
        }
        return plan
    }

    /// Why this host cannot serve `target` of `model`, or nil: a version whose recorded format no runtime
    /// here scores, or the same target failed to load before (tried again when the manifest changes it).
    func unservable(_ model: String, _ target: ServingTarget, _ revision: Revision) -> String? {
        if let failure = modelFailures[model], failure.target == target { return failure.reason }
        for version in target.versions {
            let record = revision.records[model + "/" + version]!
            if let format = record.format, ModelFormat(rawValue: format) == nil {
                return "\(model)@\(version) is format '\(format)'\(record.artifact.map { " ('\($0)')" } ?? ""): no runtime on this host serves it"
            }
        }
        return nil
    }

    /// Applies a plan model by model: every version is staged and verified before anything is
    /// served; new versions are loaded with no traffic (a 0% canary), checked ready and smoke-tested,
    /// then traffic switches. A model that cannot be staged or loaded is put back as it was and
    /// returned with the reason, while the others go on; a server that does not answer, or a store
    /// that cannot be written, stops the pass and restores what the server served before it.
    func apply(_ plan: Plan, _ revision: Revision, serving: [String: ServingTarget]) async throws -> [String: String] {
        var failed = [String: String]()
        // 1. Stage and verify every version first: a model is installed only when all its versions are good.
        var staged = [(model: String, version: String, path: String, replaces: Bool)]()
        for item in plan.materialize where failed[item.model] == nil {
            do {
                let path = try stage(item.model, item.version, revision)
                staged.append((item.model, item.version, path, item.reason != "missing"))
            } catch let transient as TransientError {
                // The host's fault (a full disk): nothing is kept, and the pass is tried again.
                for s in staged { try? FileManager.default.removeItem(atPath: s.path) }
                throw transient
            } catch {
                failed[item.model] = "\(error)"
                for s in staged where s.model == item.model { try? FileManager.default.removeItem(atPath: s.path) }
                staged.removeAll { $0.model == item.model }
            }
        }
        // 2. Into place: one rename each.
        var installed = [(model: String, version: String)]()
        for (i, s) in staged.enumerated() {
            do {
                try store.install(s.path, model: s.model, version: s.version)
            } catch {
                for rest in staged[i...] { try? FileManager.default.removeItem(atPath: rest.path) }
                removeInstalled(installed)
                throw RevisionRejected("\(error)")
            }
            if !s.replaces { installed.append((s.model, s.version)) }
        }
        board.update { $0.counters.materialized += staged.count }

        // 3. Load, check, switch; a refused model goes back to what it served, an unreachable server restores everything.
        var touched = [(model: String, previous: ServingTarget?)]()
        do {
            for (model, target) in plan.loads where failed[model] == nil {
                let previous = serving[model]
                touched.append((model, previous))
                do {
                    try await load(model, target, previous: previous, reload: plan.reloads[model] ?? [])
                } catch let rejected as RevisionRejected {
                    failed[model] = rejected.reason
                    touched.removeLast()
                    await rollback([(model, previous)])
                    removeInstalled(installed.filter { $0.model == model })
                }
            }
        } catch {
            await rollback(touched)
            removeInstalled(installed)
            throw error
        }
        board.update { $0.counters.loads += plan.loads.count - failed.count }

        // 4. What is no longer wanted goes, and only what mreg put there.
        for model in plan.unloads {
            do {
                try await client.unload(model)
                board.update { $0.counters.unloads += 1 }
            } catch ServerCallError.unreachable(let why) {
                throw TransientError(description: "unload \(model): model server unreachable: \(why)")
            } catch {
                // Already gone from the server: nothing to unload.
            }
        }
        // A model that failed keeps the folders of what it still serves.
        for (model, version) in plan.removals where failed[model] == nil { try? store.remove(model, version) }
        for model in Set(plan.removals.map(\.model)) where revision.models[model] == nil { store.removeModelIfEmpty(model) }
        return failed
    }

    /// Stages one version's files (and its version.yaml) as committed, in `into` (the host's store
    /// unless an engine keeps its own); errors name the version.
    func stage(_ model: String, _ version: String, _ revision: Revision, into target: HostStore? = nil) throws -> String {
        let store = target ?? self.store
        let record = revision.records[model + "/" + version]!
        let content: (files: [(VersionFile, Data)], versionYAML: Data)
        do {
            content = try Revision.files(mirror, commit: revision.commit, prefix: configuration.prefix, record: record)
        } catch let e as GitError {
            throw RevisionRejected("\(model)@\(version): \(e)")
        }
        do {
            return try store.stage(model: model, version: version, commit: revision.commit.hex,
                                   files: content.files, extra: [VersionRecord.fileName: content.versionYAML])
        } catch where error.transient {
            throw TransientError(description: "staging \(model)@\(version): \(error); retrying")
        } catch {
            throw RevisionRejected("\(error)")
        }
    }

    /// Loads one model's target: each new version warmed beside the serving one with no traffic and
    /// tried, then the switch, then every version checked.
    private func load(_ model: String, _ target: ServingTarget, previous: ServingTarget?, reload: [String] = []) async throws {
        if let previous {
            for version in target.versions where !previous.versions.contains(version) {
                try await serverCall("load \(model)@\(version)") {
                    try await self.client.load(model, ServingTarget(version: previous.version, canary: Canary(version: version, weight: 0)))
                }
                try await check(model, version)
            }
        }
        try await serverCall("load \(model) \(target)") { try await self.client.load(model, target, reload: reload) }
        for version in target.versions { try await check(model, version) }
    }

    /// Ready, then one inference.
    private func check(_ model: String, _ version: String) async throws {
        let ready = try await serverCall("ready \(model)@\(version)") { try await self.client.isReady(model, version) }
        guard ready else { throw RevisionRejected("\(model)@\(version) is not ready after loading") }
        try await serverCall("smoke test of \(model)@\(version)") { try await self.client.smokeTest(model, version) }
    }

    /// Runs a server call; a refusal rejects the revision, no answer is a transient error.
    private func serverCall<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch ServerCallError.unreachable(let why) {
            throw TransientError(description: "\(what): model server unreachable: \(why)")
        } catch ServerCallError.refused(_, let message) {
            throw RevisionRejected("\(what) failed: \(message)")
        }
    }

    /// Puts back what the server served before this pass, newest change first.
    private func rollback(_ touched: [(model: String, previous: ServingTarget?)]) async {
        guard !touched.isEmpty else { return }
        board.update { $0.counters.rollbacks += 1 }
        for (model, previous) in touched.reversed() {
            if let previous {
                try? await client.load(model, previous)
            } else {
                try? await client.unload(model)
            }
        }
    }

    private func removeInstalled(_ installed: [(model: String, version: String)]) {
        for (model, version) in installed {
            try? store.remove(model, version)
            store.removeModelIfEmpty(model)
        }
    }
}
