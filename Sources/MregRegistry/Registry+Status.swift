import Foundation
import MregCore
import MregGit

/// What main says one environment serves of one model, and since when.
public struct ModelStatus {
    public var model: String
    public var deployment: Deployment
    /// The commit on main that made the deployment what it is now (nil when older than the history).
    public var since: CommitInfo?
    /// The environment's absolute gates and requirements for the stable (and canary) version, on
    /// their recorded metrics.
    public var gates: [RuleResult]
    /// Why no host can serve the deployment with the runtimes here (a version of format `unknown`); nil when they can.
    public var notServed: String?
    public var passed: Bool { gates.allSatisfy(\.passed) }
}

/// One environment in `mreg status`.
public struct EnvironmentStatus {
    public var environment: String
    public var models: [ModelStatus]
}

extension Registry {
    /// Per environment (in promotion order) and model: the version and canary main says to serve,
    /// since which commit, by whom, and whether the environment's gates pass.
    public func status(environment: String? = nil) throws -> [EnvironmentStatus] {
        let main = try self.main()
        let config = try main.config()
        if let environment, config.environment(environment) == nil {
            throw RegistryError.unknownEnvironment(environment, known: config.environments.map(\.name))
        }
        let envs = config.environments.filter { environment == nil || $0.name == environment }
        var result = [EnvironmentStatus]()
        let cache = SummaryCache(repository: repository)
        defer { cache.save() }
        for env in envs {
            let manifest = try main.manifest(env.name) ?? Manifest(environment: env.name)
            // Since when each model is served as now: walk back until every one has changed.
            var since = [String: ObjectID]()
            var open = Set(manifest.models.keys)
            try walkManifestStates(environment: env.name, main: main) { state in
                for name in open where state.models[name] != manifest.models[name] { open.remove(name) }
                for name in open { since[name] = state.commit }
                return !open.isEmpty
            }
            var models = [ModelStatus]()
            for (name, deployment) in manifest.models.sorted(by: { $0.key < $1.key }) {
                var gates = [RuleResult]()
                var notServed: String?
                for v in [deployment.version] + (deployment.canary.map { [$0.version] } ?? []) {
                    if let record = try? main.versionRecord(name, v), record.format == VersionRecord.unknownFormat {
                        notServed = "\(name)@\(v) is format unknown\(record.artifact.map { " ('\($0)')" } ?? ""): no runtime here serves it"
                    }
                    guard let entry = try main.entry(Snapshot.versionPath(name, v)), entry.kind == .tree,
                        let s = try? versionSummary(snap: main, model: name, version: v, tree: entry.id, cache: cache)
                    else {
                        gates.append(RuleResult(rule: "exists", passed: false, detail: "\(name)@\(v) is not registered or unreadable"))
                        continue
                    }
                    let input = GateInput(
                        task: s["task"]?.stringValue, metrics: (s["metrics"]?.objectValue ?? [:]).compactMapValues(\.doubleValue),
                        champion: nil, cardMissing: s["cardMissing"]?.arrayValue?.compactMap(\.stringValue),
                        cardMismatches: s["cardMismatches"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                    gates += env.gates.check(input)
                        .filter { $0.rule.contains("vs champion") == false }
                        .map { r in var r = r; if v != deployment.version { r.rule = "canary \(v): " + r.rule }; return r }
                }
                models.append(ModelStatus(model: name, deployment: deployment, since: try since[name].map { try repository.commit($0) },
                                          gates: gates, notServed: notServed))
            }
            result.append(EnvironmentStatus(environment: env.name, models: models))
        }
        return result
    }
}

/// One state of an environment's manifest on main: the commit that made it and what it served.
public struct ManifestState {
    public var commit: CommitInfo
    public var models: [String: Deployment]
}

extension Registry {
    /// The states of an environment's manifest on main's first-parent history, newest first, at most
    /// `limit`; an absent or invalid manifest reads as serving nothing (as for `status`).
    public func manifestHistory(environment: String, limit: Int = .max) throws -> [ManifestState] {
        let main = try self.main()
        let config = try main.config()
        guard config.environment(environment) != nil else {
            throw RegistryError.unknownEnvironment(environment, known: config.environments.map(\.name))
        }
        var states = [ManifestState]()
        try walkManifestStates(environment: environment, main: main) { state in
            states.append(ManifestState(commit: try repository.commit(state.commit), models: state.models))
            return states.count < limit
        }
        return states
    }
}
