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
        for env in envs {
            let manifest = try main.manifest(env.name) ?? Manifest(environment: env.name)
            let states = try manifestStates(environment: env.name, main: main)
            var models = [ModelStatus]()
            for (name, deployment) in manifest.models.sorted(by: { $0.key < $1.key }) {
                var since: ObjectID?
                for state in states {
                    guard state.models[name] == deployment else { break }
                    since = state.commit
                }
                var gates = [RuleResult]()
                for v in [deployment.version] + (deployment.canary.map { [$0.version] } ?? []) {
                    guard let record = try? main.versionRecord(name, v) else {
                        gates.append(RuleResult(rule: "exists", passed: false, detail: "\(name)@\(v) is not registered"))
                        continue
                    }
                    let metrics = (try? main.metrics(name, v)) ?? nil
                    let card = (try? main.card(name, v)) ?? nil
                    gates += env.gates.check(GateInput(
                        task: record.task, metrics: metrics?.primary ?? [:], champion: nil, cardMissing: card?.missingFields,
                        cardMismatches: card.map { Registry.cardMetricIssues(card: $0, metrics: metrics) } ?? []))
                        .filter { $0.rule.contains("vs champion") == false }
                        .map { r in var r = r; if v != deployment.version { r.rule = "canary \(v): " + r.rule }; return r }
                }
                models.append(ModelStatus(model: name, deployment: deployment, since: try since.map { try repository.commit($0) }, gates: gates))
            }
            result.append(EnvironmentStatus(environment: env.name, models: models))
        }
        return result
    }
}
