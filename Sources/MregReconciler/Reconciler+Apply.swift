import Foundation
import MregCore
import MregGit

/// What a pass must change on the host to match a revision.
struct Plan: Sendable {
    /// Version folders to write: missing, or placed by mreg and since changed.
    var materialize: [(model: String, version: String, reason: String)] = []
    /// Models whose serving state must change, with the target.
    var loads: [(model: String, target: ServingTarget)] = []
    /// mreg's models that the revision no longer names on this host.
    var unloads: [String] = []
    /// mreg's version folders no longer wanted (removed after the switch).
    var removals: [(model: String, version: String)] = []
    /// Set when the revision must not be applied at all.
    var refusal: String?

    var isEmpty: Bool { materialize.isEmpty && loads.isEmpty && unloads.isEmpty && removals.isEmpty }

    var summary: String {
        var parts = [String]()
        if !materialize.isEmpty { parts.append("write " + materialize.map { "\($0.model)@\($0.version)" }.joined(separator: ", ")) }
        if !loads.isEmpty { parts.append("serve " + loads.map { "\($0.model) \($0.target)" }.joined(separator: ", ")) }
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
            for version in target.versions {
                let record = revision.records[model + "/" + version]!
                switch store.check(model, version, files: record.files) {
                case .intact: break
                case .missing: plan.materialize.append((model, version, "missing"))
                case .damaged(let why): plan.materialize.append((model, version, why))
                case .foreign:
                    plan.refusal = "store folder '\(model)/\(version)' was not placed by mreg and differs from the registry; move it away"
                    return plan
                }
            }
            if serving[model] != target { plan.loads.append((model, target)) }
        }
        for model in managed.keys.sorted() {
            let wanted = Set(revision.models[model]?.versions ?? [])
            if revision.models[model] == nil && serving[model] != nil { plan.unloads.append(model) }
            for version in managed[model]!.sorted() where !wanted.contains(version) {
                plan.removals.append((model, version))
            }
        }
        return plan
    }

    /// Applies a plan all or nothing: every version is staged and verified before anything is
    /// served; new versions are loaded with no traffic (a 0% canary), checked ready and smoke-tested,
    /// then traffic switches. A failure restores what the server served before this pass and removes
    /// what this pass wrote.
    func apply(_ plan: Plan, _ revision: Revision, serving: [String: ServingTarget]) async throws {
        // 1. Stage and verify every version first: nothing is installed unless all of them are good.
        var staged = [(model: String, version: String, path: String, replaces: Bool)]()
        do {
            for item in plan.materialize {
                let record = revision.records[item.model + "/" + item.version]!
                let content: (files: [(VersionFile, Data)], versionYAML: Data)
                do {
                    content = try Revision.files(mirror, commit: revision.commit, prefix: configuration.prefix, record: record)
                } catch let e as GitError {
                    throw RevisionRejected("\(item.model)@\(item.version): \(e)")
                }
                let path: String
                do {
                    path = try store.stage(model: item.model, version: item.version, commit: revision.commit.hex,
                                           files: content.files, extra: [VersionRecord.fileName: content.versionYAML])
                } catch {
                    throw RevisionRejected("\(error)")
                }
                staged.append((item.model, item.version, path, item.reason != "missing"))
            }
        } catch {
            for s in staged { try? FileManager.default.removeItem(atPath: s.path) }
            throw error
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

        // 3. Load, check, switch; restore everything on the first failure.
        var touched = [(model: String, previous: ServingTarget?)]()
        do {
            for (model, target) in plan.loads {
                let previous = serving[model]
                touched.append((model, previous))
                let fresh = target.versions.filter { !(previous?.versions.contains($0) ?? false) }
                if let previous {
                    // Warm each new version beside the serving one, with no traffic, and try it.
                    for version in fresh {
                        try await serverCall("load \(model)@\(version)") {
                            try await self.client.load(model, ServingTarget(version: previous.version, canary: Canary(version: version, weight: 0)))
                        }
                        try await check(model, version)
                    }
                }
                try await serverCall("load \(model) \(target)") { try await self.client.load(model, target) }
                for version in target.versions { try await check(model, version) }
            }
        } catch {
            await rollback(touched)
            removeInstalled(installed)
            throw error
        }
        board.update { $0.counters.loads += plan.loads.count }

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
        for (model, version) in plan.removals { try? store.remove(model, version) }
        for model in Set(plan.removals.map(\.model)) where revision.models[model] == nil { store.removeModelIfEmpty(model) }
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
