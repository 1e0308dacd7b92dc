import Foundation
import MregCore
import MregGit

/// Whether an environment may serve a version: the one set of rules behind `mreg promote`,
/// `mreg rollback` and `mreg evaluate --changed`, however the manifest was changed.
public struct DeploymentVerdict {
    /// Every rule and its result: metric and champion rules, card, integrity, promotion order, force.
    public var gates: [RuleResult]
    /// The environment served this version as its stable version before on main: going back to
    /// it is a rollback, which only integrity can block.
    public var rollback: Bool
    /// What the environment serves now, with its metrics, when the candidate replaces it.
    public var champion: (version: String, metrics: [String: Double])?
    /// Why failing gates were let through (a forced change the policy allows), if they were.
    public var forced: String?

    /// The rules that can refuse this change.
    public var blocking: [RuleResult] { rollback ? gates.filter { $0.rule == "integrity" } : gates }
    /// Blocking rules that failed.
    public var failed: [RuleResult] { blocking.filter { !$0.passed } }
    /// True when the environment may serve the version (forced past failures where allowed).
    public var passed: Bool { failed.isEmpty || (forced != nil && !failed.contains { $0.rule == "integrity" || $0.rule == "force" }) }
}

/// One change to judge: `version` of `model` to serve in `environment` where `previous` served.
struct DeploymentChange {
    var model: String
    var version: String
    var environment: EnvironmentConfig
    var previous: Deployment?
    /// The candidate's metrics: recorded test metrics, or scored on evaluation data.
    var metrics: [String: Double]
    /// Checksum problems of the candidate's files.
    var integrity: [String]
    /// The reason of an `Mreg-Forced` trailer that covers this change, if any.
    var forceReason: String?
    /// False to judge the version alone (`mreg evaluate --env`), without promotion order or
    /// rollback, which belong to a change of what an environment serves.
    var isDeployment = true
}

extension Registry {
    /// Judges a deployment change. `snap` holds the candidate's files (main for a promotion, the
    /// pull request's commit in CI); `main` holds what serves now, its history and the policy.
    /// `championMetrics` scores the version served now the same way the candidate was scored.
    func judge(_ change: DeploymentChange, snap: Snapshot, main: Snapshot,
               championMetrics: (String) throws -> [String: Double]) throws -> DeploymentVerdict {
        let env = change.environment
        let model = change.model, version = change.version
        var champion: (version: String, metrics: [String: Double])?
        if let replaced = change.previous?.version, replaced != version {
            champion = (replaced, try championMetrics(replaced))
        }
        let record = try snap.versionRecord(model, version)
        let card = try snap.card(model, version)
        let metricsFile = try snap.metrics(model, version)
        let declaredTask = try snap.modelSpecIfPresent(model)?.task
        var gates = env.gates.check(GateInput(
            task: record.task ?? declaredTask, metrics: change.metrics, champion: champion,
            cardMissing: card?.missingFields,
            cardMismatches: card.map { Registry.cardMetricIssues(card: $0, metrics: metricsFile) } ?? []))
        gates.append(RuleResult(rule: "integrity", passed: change.integrity.isEmpty,
                                detail: change.integrity.isEmpty ? "every file matches version.yaml" : change.integrity.joined(separator: "; ")))
        let mainBranch = try main.config().mainBranch
        if let from = env.promoteFrom, change.isDeployment {
            let served = try hasServed(model: model, version: version, environment: from, main: main)
            var detail = served ? "\(from) has served \(version)" : "\(from) has never served \(version) on \(mainBranch)"
            if !served && repository.isShallow { detail += " (this clone is shallow: fetch the whole history of \(mainBranch) to see all of it)" }
            gates.append(RuleResult(rule: "promote from \(from)", passed: served, detail: detail))
        }
        // Whether this goes back to a version served before matters only when a gate fails (then
        // only integrity may block it), so main's history is walked only then.
        var rollback = false
        if change.isDeployment, change.previous?.version != version, gates.contains(where: { !$0.passed && $0.rule != "integrity" }) {
            rollback = try servedStable(model: model, version: version, environment: env.name, main: main)
        }
        if rollback { gates.removeAll { $0.rule.hasPrefix("promote from ") && !$0.passed } }
        var verdict = DeploymentVerdict(gates: gates, rollback: rollback, champion: champion, forced: nil)
        if let reason = change.forceReason, !verdict.failed.isEmpty {
            if env.forceAllowed {
                verdict.forced = reason
            } else {
                verdict.gates.append(RuleResult(
                    rule: "force", passed: false,
                    detail: "\(env.name) does not allow forced changes (set allowForce: true for it in mreg.yaml to allow them)"))
            }
        }
        return verdict
    }

    /// True when `environment` on main once served `version` as its stable version.
    func servedStable(model: String, version: String, environment: String, main: Snapshot) throws -> Bool {
        if try main.manifest(environment)?.models[model]?.version == version { return true }
        return try deploymentHistory(model: model, environment: environment, main: main).contains { $0.deployment?.version == version }
    }

    /// The `Mreg-Forced` reason of the commits between `base` and `head` that changed `model` in
    /// `environment` (a trailer naming another model or environment does not count), newest first.
    func forceReason(model: String, environment: String, base: ObjectID, head: ObjectID) throws -> String? {
        for id in try commitsBetween(base: base, head: head) {
            let trailers = Trailers(message: try repository.commit(id).message)
            guard let reason = trailers["Mreg-Forced"], !reason.isEmpty else { continue }
            if let m = trailers["Mreg-Model"], m != model { continue }
            if let e = trailers["Mreg-Environment"], e != environment { continue }
            return reason
        }
        return nil
    }

    /// Commits reachable from `head` but not from `base`, newest first; bounded, and stopping at a
    /// shallow clone's boundary.
    func commitsBetween(base: ObjectID, head: ObjectID, limit: Int = 10_000) throws -> [ObjectID] {
        var out = [ObjectID]()
        var queue = [head]
        var seen: Set<ObjectID> = [head]
        let boundary = repository.shallowBoundary
        while !queue.isEmpty, out.count < limit {
            let id = queue.removeFirst()
            // In a shallow clone the ancestry walk may reach missing parents: then count the commit in.
            if id == base || (try? repository.isAncestor(id, of: base)) == true { continue }
            out.append(id)
            guard !boundary.contains(id) else { continue }
            for parent in try repository.commit(id).parents where repository.contains(parent) && seen.insert(parent).inserted {
                queue.append(parent)
            }
        }
        return out
    }

    /// The forced trailer of a commit that landed on main: its own, or for a merge commit made by a
    /// Git host, that of the merged branch's tip.
    func landedForceReason(_ info: CommitInfo) throws -> String? {
        if let reason = Trailers(message: info.message)["Mreg-Forced"], !reason.isEmpty { return reason }
        // A parent beyond a shallow clone's boundary is absent: nothing to read there.
        guard info.parents.count > 1, repository.contains(info.parents[1]) else { return nil }
        let merged = try repository.commit(info.parents[1])
        let reason = Trailers(message: merged.message)["Mreg-Forced"]
        return reason?.isEmpty == false ? reason : nil
    }
}
