import Foundation
import MregCore
import MregGit
import MregML

/// Metrics of one version on some data, and the gates of an environment when asked.
public struct EvaluationReport {
    public var model: String
    public var version: String
    /// Where the metrics come from: `data PATH` or `recorded test metrics`.
    public var source: String
    public var dataSHA256: String?
    public var rows: Int?
    public var metrics: [String: Double]
    public var confusionMatrix: [[Int]]?
    public var classes: [String]?
    public var environment: String?
    public var champion: (version: String, metrics: [String: Double])?
    public var gates: [RuleResult]
    /// Problems that fail the check regardless of gates (checksums of the version's files).
    public var problems: [String]
    /// The commit that recorded this evaluation, with `--record`.
    public var recorded: ObjectID?
    /// Why failing gates do not block (a rollback, or a forced change the policy allows), if so.
    public var waiver: String?

    public var passed: Bool { problems.isEmpty && (waiver != nil || gates.allSatisfy(\.passed)) }
}

/// What `mreg evaluate --changed` found and judged.
public struct ChangedReport {
    public var base: ObjectID
    public var head: ObjectID
    public var items: [ChangedItem]
    public var passed: Bool { items.allSatisfy(\.report.passed) }
}

/// One judged change: a new version, or a model whose deployment changed in an environment.
public struct ChangedItem {
    public enum Kind { case newVersion, deployment }
    public var kind: Kind
    /// For a deployment change: the version served before (nil: none).
    public var previous: String?
    public var report: EvaluationReport
    public var title: String {
        switch kind {
        case .newVersion: return "\(report.model)@\(report.version) (new version)"
        case .deployment:
            return "\(report.model) in \(report.environment ?? "?"): \(previous ?? "none") -> \(report.version)"
        }
    }
}

extension Registry {
    /// Scores `reference` on a CSV file (or, without one, reads its recorded test metrics) and,
    /// with `environment`, checks that environment's gates against its champion on main scored on
    /// the same data. With `record`, appends the evaluation to the version in a new file and commits.
    public func evaluate(_ reference: ModelReference, data: String?, environment: String?, record: Bool = false) throws -> EvaluationReport {
        let (snap, version) = try resolve(reference)
        let table = try data.map { path in try Registry.readTable(path) }
        var report = try evaluate(snap: snap, model: reference.model, version: version, table: table, dataPath: data)
        if let environment {
            try checkGates(&report, environment: environment, table: table, snap: snap)
        }
        if record {
            guard let table else { throw RegistryError.invalidInput("--record needs --data: there is nothing new to record") }
            guard report.source.hasPrefix("data ") else {
                let format = (try? snap.versionRecord(reference.model, version))?.format ?? VersionRecord.unknownFormat
                throw RegistryError.invalidInput("\(reference.model)@\(version) is format \(format): it cannot be scored on data, so there is nothing to record")
            }
            report.recorded = try recordEvaluation(report, rows: table.1.rowCount)
        }
        return report
    }

    /// Scores one version: its artifact, through the model runtime, on the table, or its recorded metrics
    /// without one (and for a version of format `unknown`, which no runtime here scores).
    func evaluate(snap: Snapshot, model: String, version: String, table: (Data, Table)?, dataPath: String?) throws -> EvaluationReport {
        var report = EvaluationReport(
            model: model, version: version, source: "recorded test metrics", metrics: [:], gates: [], problems: [])
        let record = try snap.versionRecord(model, version)
        report.problems = try integrityProblems(snap: snap, model: model, version: version, record: record)
        if table != nil, !VersionRecord.isScoredNatively(record.format) {
            // No runtime here scores it: judged on what it recorded, and the report says so.
            report.source = "recorded test metrics (format \(record.format ?? VersionRecord.unknownFormat): not scored on data)"
            report.metrics = try snap.metrics(model, version)?.primary ?? [:]
        } else if let (bytes, table) = table, let dataPath {
            let loaded = try loadScorer(snap: snap, model: model, version: version)
            let target = try (loaded.scorer as? Model)?.target ?? record.target ?? snap.modelSpecIfPresent(model)?.target
            guard let target else {
                throw RegistryError.invalidInput("\(model)@\(version) names no target: set target in models/\(model)/model.yaml to score it on data")
            }
            let evaluation = try MregML.evaluate(loaded.scorer, target: target, on: table)
            report.source = "data \(dataPath)"
            report.dataSHA256 = SHA256.hex(bytes)
            report.rows = evaluation.rows
            report.metrics = evaluation.metrics
            report.confusionMatrix = evaluation.confusionMatrix
            report.classes = evaluation.classes
        } else {
            report.metrics = try snap.metrics(model, version)?.primary ?? [:]
        }
        return report
    }

    /// Checksum problems of one version's files, one line each.
    func integrityProblems(snap: Snapshot, model: String, version: String, record: VersionRecord) throws -> [String] {
        var problems = [String]()
        let dir = Snapshot.versionPath(model, version)
        for file in record.files {
            guard let data = try snap.data(dir + "/" + file.path) else {
                problems.append("\(dir)/\(file.path): listed in version.yaml but missing")
                continue
            }
            if data.count != file.size || SHA256.hex(data) != file.sha256 {
                problems.append("\(dir)/\(file.path): checksum differs from version.yaml")
            }
        }
        return problems
    }

    /// Applies an environment's gates to a report, the way `mreg promote` judges the same change:
    /// champion rules against the version the environment serves on main (scored on the same data
    /// when there is data), card, promotion order, rollback and force (`forceReason`: the
    /// `Mreg-Forced` trailer that covers the change).
    func checkGates(_ report: inout EvaluationReport, environment: String, table: (Data, Table)?, snap: Snapshot,
                    deployment: Bool = false, forceReason: String? = nil) throws {
        let main = try self.main()
        let config = try main.config()
        guard let env = config.environment(environment) else {
            throw RegistryError.unknownEnvironment(environment, known: config.environments.map(\.name))
        }
        report.environment = environment
        let change = DeploymentChange(
            model: report.model, version: report.version, environment: env,
            previous: try main.manifest(environment)?.models[report.model],
            metrics: report.metrics, integrity: report.problems, forceReason: forceReason, isDeployment: deployment)
        let verdict = try judge(change, snap: snap, main: main) { served in
            try evaluate(snap: main, model: report.model, version: served, table: table, dataPath: table == nil ? nil : "champion").metrics
        }
        report.champion = verdict.champion
        // Integrity is in `problems` already.
        report.gates = verdict.gates.filter { $0.rule != "integrity" }
        if verdict.rollback && verdict.failed.isEmpty && !report.gates.allSatisfy(\.passed) {
            report.waiver = "a rollback to \(report.version), which \(environment) served before: only integrity blocks"
        } else if let reason = verdict.forced, verdict.passed {
            report.waiver = "forced: \(reason)"
        }
    }

    /// Appends an evaluation record (`evaluations/TIME-DATA.json`) to the version and commits.
    func recordEvaluation(_ report: EvaluationReport, rows: Int) throws -> ObjectID {
        let branch = try currentBranch()
        let identity = try identity()
        var json: [String: JSONValue] = [
            "schemaVersion": 1, "model": .string(report.model), "version": .string(report.version),
            "time": .string(isoTime(identity.committer)), "mregVersion": .string(mregVersion),
            "data": ["sha256": .string(report.dataSHA256 ?? ""), "rows": .number(Double(rows)),
                     "source": .string(String(report.source.dropFirst("data ".count)))],
            "metrics": .object(report.metrics.mapValues(JSONValue.number)),
        ]
        if let m = report.confusionMatrix, let c = report.classes {
            json["confusionMatrix"] = ["classes": .array(c.map(JSONValue.string)), "matrix": .array(m.map { .array($0.map { .number(Double($0)) }) })]
        }
        if let env = report.environment {
            json["environment"] = .string(env)
            json["passed"] = .bool(report.passed)
            json["gates"] = .array(report.gates.map { ["rule": .string($0.rule), "passed": .bool($0.passed), "detail": .string($0.detail)] })
        }
        let stamp = isoTime(identity.committer).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let name = "\(stamp)-\((report.dataSHA256 ?? "nodata").prefix(12)).json"
        let blob = try repository.writeBlob(JSONValue.object(json).encoded(pretty: true))
        return try retrying(branch: branch) {
            let snap = try head()
            let path = Snapshot.versionPath(report.model, report.version) + "/evaluations/" + name
            guard try snap.entry(path) == nil else {
                throw RegistryError.invalidInput("an evaluation of \(report.model)@\(report.version) on this data was already recorded at this time")
            }
            let message = "Record evaluation of \(report.model) \(report.version)\n\nMreg-Model: \(report.model)\nMreg-Version: \(report.version)\n"
            return try commit([path: .blob(blob)], onBranch: branch, parent: snap.commit, message: message)
        }
    }

    /// CI mode: what the commits since `base` (default: where this branch left main, found as
    /// `main()` finds main) add or change — new versions and edited manifests — each evaluated and
    /// judged by the rules `mreg promote` applies.
    public func evaluateChanged(base: String?, data: String?) throws -> ChangedReport {
        let snap = try head()
        let baseID = try changedBase(base, head: snap)
        let baseSnap = try snapshot(commit: baseID)
        let changes = try repository.diffTrees(baseSnap.tree, snap.tree)
        let table = try data.map { try Registry.readTable($0) }
        var items = [ChangedItem]()
        var tables = [String: (Data, Table)]()
        func dataFor(_ model: String) throws -> ((Data, Table)?, String?) {
            if let table { return (table, data) }
            guard let path = try snap.modelSpecIfPresent(model)?.evaluationData else { return (nil, nil) }
            if let cached = tables[path] { return (cached, path) }
            if let loaded = try evaluationTable(path, snap: snap) {
                tables[path] = loaded
                return (loaded, path)
            }
            throw RegistryError.invalidInput("models/\(model)/model.yaml: evaluation data '\(path)' not found in the repository or on this machine")
        }
        // New versions: a version.yaml that did not exist at the base.
        for change in changes where change.status == .added && change.path.hasSuffix("/" + VersionRecord.fileName) {
            let parts = change.path.split(separator: "/")
            guard parts.count == 4, parts[0] == "models", Names.versionNumber(String(parts[2])) != nil else { continue }
            let model = String(parts[1]), version = String(parts[2])
            let (t, path) = try dataFor(model)
            let report = try evaluate(snap: snap, model: model, version: version, table: t, dataPath: path)
            items.append(ChangedItem(kind: .newVersion, previous: nil, report: report))
        }
        // Edited manifests: every model whose deployment changed is judged by that environment's
        // gates on main, against what main serves now.
        let config = try self.main().config()
        for change in changes where change.path.hasPrefix("deploy/") && change.path.hasSuffix(".yaml") {
            let env = String(change.path.dropFirst("deploy/".count).dropLast(".yaml".count))
            guard config.environment(env) != nil else {
                throw RegistryError.invalidInput("\(change.path): environment '\(env)' is not in mreg.yaml on \(config.mainBranch)")
            }
            let before = (try? baseSnap.manifest(env))??.models ?? [:]
            guard let after = try snap.manifest(env)?.models else { continue }
            for (model, deployment) in after.sorted(by: { $0.key < $1.key }) {
                let old = before[model]
                for (candidate, previous) in [(deployment.version, old?.version), (deployment.canary?.version, old?.canary?.version)] {
                    guard let candidate, candidate != previous, candidate != old?.version else { continue }
                    let (t, path) = try dataFor(model)
                    var report = try evaluate(snap: snap, model: model, version: candidate, table: t, dataPath: path)
                    let reason = try forceReason(model: model, environment: env, base: baseID, head: snap.commit)
                    try checkGates(&report, environment: env, table: t, snap: snap, deployment: true, forceReason: reason)
                    items.append(ChangedItem(kind: .deployment, previous: old?.version, report: report))
                }
            }
        }
        return ChangedReport(base: baseID, head: snap.commit, items: items)
    }

    /// The commit `evaluate --changed` compares with: `--base` when given (a commit, or a branch
    /// such as `origin/main`, whose remote then also stands in for main), else the merge-base of
    /// HEAD with main. In a shallow clone where the merge-base is out of reach, main's tip when it
    /// is a parent of HEAD (the merge commit a Git host checks out); otherwise an error that says
    /// what to fetch.
    func changedBase(_ base: String?, head snap: Snapshot) throws -> ObjectID {
        let remotes = try repository.remoteNames()
        if let base {
            if let slash = base.firstIndex(of: "/"), remotes.contains(String(base[..<slash])) { mainRemote = String(base[..<slash]) }
            guard let found = try repository.resolveCommit(base) else {
                throw RegistryError.invalidInput("--base '\(base)' names no commit here; fetch it first (git fetch origin \(base)), or fetch the whole history (fetch-depth: 0)")
            }
            // A branch (or its tip) that moved on since HEAD left it: compare with where HEAD left it.
            return try mergeBase(found, snap.commit) ?? found
        }
        let name = try snap.config().mainBranch
        let tip = try mainTip(name)
        if let mb = try mergeBase(tip.commit, snap.commit) { return mb }
        if try repository.commit(snap.commit).parents.contains(tip.commit) { return tip.commit }
        throw RegistryError.mainNotFound(
            "cannot find where HEAD left '\(shortName(tip.ref))'" + (repository.isShallow ? " in this shallow clone" : "")
                + "; fetch the whole history (git fetch --unshallow, or fetch-depth: 0) or pass --base COMMIT")
    }

    /// The merge-base of two commits, nil when there is none or a shallow clone lacks the history.
    func mergeBase(_ a: ObjectID, _ b: ObjectID) throws -> ObjectID? {
        do {
            return try repository.mergeBase(a, b)
        } catch where repository.isShallow {
            return nil
        }
    }

    /// Evaluation data named in model.yaml: a file on this machine (relative to the registry folder
    /// when relative), else a file in the repository at the evaluated commit.
    func evaluationTable(_ path: String, snap: Snapshot) throws -> (Data, Table)? {
        let onDisk = path.hasPrefix("/") ? path : (directory.map { $0 + "/" + path } ?? path)
        if FileManager.default.fileExists(atPath: onDisk) { return try Registry.readTable(onDisk) }
        guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), let bytes = try snap.data(path) else { return nil }
        return (bytes, try Table.parseCSV(bytes, source: (path as NSString).lastPathComponent))
    }
}
