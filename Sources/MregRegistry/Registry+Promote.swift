import Foundation
import MregCore
import MregGit

/// What `mreg promote` (or `rollback`) is asked to do.
public struct PromotionRequest {
    public enum Kind: String { case promote, rollback }
    public var kind: Kind = .promote
    public var model: String
    /// The version to serve (for a rollback: the one to go back to; nil = the one served before).
    public var version: String?
    public var environment: String
    /// Percent of requests for the new version while the current one stays stable.
    public var canary: Int?
    public var branch: String?
    public var force = false
    public var reason: String?
    public var message: String?

    public init(model: String, version: String?, environment: String) {
        self.model = model
        self.version = version
        self.environment = environment
    }
}

/// The branch, commit and pull request a promotion made.
public struct Promotion {
    public var model: String
    public var version: String
    public var environment: String
    public var kind: PromotionRequest.Kind
    public var previous: Deployment?
    public var next: Deployment
    public var branch: String
    public var commit: ObjectID
    /// The main tip the promotion is built on.
    public var base: ObjectID
    public var gates: [RuleResult]
    public var forced: Bool
    /// Why it was forced.
    public var reason: String?
    public var title: String
    public var body: String
    /// Set when `--merge` moved main to the promotion.
    public var merged: ObjectID?
}

extension Registry {
    /// Builds a promotion: checks the environment's gates (and promotion order), writes the new
    /// `deploy/ENV.yaml` on top of main's tree without touching the working tree, and creates the
    /// branch `promote/MODEL-VERSION-ENV` with exactly one commit. Gate failures throw
    /// `PromotionRefused` unless forced with a reason.
    public func promote(_ request: PromotionRequest) throws -> Promotion {
        _ = try Names.model(request.model)
        let main = try self.main()
        let config = try main.config()
        guard let env = config.environment(request.environment) else {
            throw RegistryError.unknownEnvironment(request.environment, known: config.environments.map(\.name))
        }
        if request.force && (request.reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw RegistryError.invalidInput("--force needs --reason TEXT: a forced promotion records why")
        }
        if let canary = request.canary, !(0...100).contains(canary) {
            throw RegistryError.invalidInput("--canary must be between 0 and 100, not \(canary)")
        }
        // A hand-edited manifest must be valid before anything is built on it.
        let manifest = try main.manifest(request.environment) ?? Manifest(environment: request.environment)
        let previous = manifest.models[request.model]
        try main.requireModel(request.model)

        let version: String
        switch request.kind {
        case .promote:
            guard let v = request.version else { throw RegistryError.invalidInput("promote needs MODEL@VERSION") }
            version = v
        case .rollback:
            if let v = request.version {
                version = v
            } else {
                guard let current = previous?.version else { throw RegistryError.notDeployed(model: request.model, environment: request.environment) }
                guard let before = try servedBefore(model: request.model, environment: request.environment, current: current, main: main) else {
                    throw RegistryError.invalidInput("\(request.model) has served no other version in \(request.environment) on main; name one with --to")
                }
                version = before
            }
        }
        guard try main.entry(Snapshot.versionPath(request.model, version) + "/" + VersionRecord.fileName) != nil else {
            if try head().entry(Snapshot.versionPath(request.model, version) + "/" + VersionRecord.fileName) != nil {
                throw RegistryError.invalidInput("\(request.model)@\(version) is not on \(config.mainBranch) yet; merge its registration first")
            }
            throw RegistryError.unknownVersion(model: request.model, version: version)
        }

        // The manifest entry this promotion leads to.
        var next: Deployment
        if let canary = request.canary, request.kind == .promote {
            guard let stable = previous?.version else {
                throw RegistryError.invalidInput("\(request.environment) serves no \(request.model) yet to keep as stable; promote without --canary first")
            }
            guard stable != version else { throw RegistryError.invalidInput("\(request.model)@\(version) is already the stable version in \(request.environment)") }
            next = Deployment(version: stable, canary: Canary(version: version, weight: canary), hosts: previous?.hosts, kubernetes: previous?.kubernetes)
        } else {
            next = Deployment(version: version, canary: nil, hosts: previous?.hosts, kubernetes: previous?.kubernetes)
        }
        guard next != previous else {
            throw RegistryError.invalidInput("\(request.environment) already serves \(request.model)@\(version) that way; nothing to promote")
        }

        // Gates: the version's recorded metrics against the one it replaces, card, integrity,
        // promotion order; the same verdict `evaluate --changed` reaches on the pull request.
        let record = try main.versionRecord(request.model, version)
        let metricsFile = try main.metrics(request.model, version)
        let card = try main.card(request.model, version)
        let change = DeploymentChange(
            model: request.model, version: version, environment: env, previous: previous,
            metrics: metricsFile?.primary ?? [:],
            integrity: try integrityProblems(snap: main, model: request.model, version: version, record: record),
            forceReason: request.force ? request.reason : nil)
        let verdict = try judge(change, snap: main, main: main) { replaced in try main.metrics(request.model, replaced)?.primary ?? [:] }
        let gates = verdict.gates, champion = verdict.champion
        let failed = verdict.failed
        if !verdict.passed {
            throw PromotionRefused(failures: verdict.blocking.filter { !$0.passed })
        }

        let defaultName = (request.kind == .rollback ? "rollback/" : "promote/") + "\(request.model)-\(version)-\(request.environment)"
            + (next.canary.map { "-canary\($0.weight)" } ?? "")
        let branchName = request.branch ?? defaultName
        let branchRef = "refs/heads/" + branchName
        guard Repository.isValidReferenceName(branchRef) else {
            throw RegistryError.invalidInput("'\(branchName)' is not a valid branch name")
        }
        if let existing = try repository.referenceTarget(branchRef) {
            // A branch that main already contains is spent, and one left by an earlier attempt at
            // this same change (a refused push, a moved main) is stale: make it anew.
            var stale = request.branch == nil
            if stale { stale = try repository.isAncestor(existing, of: main.commit) }
            if !stale { stale = try isEarlierAttempt(existing, model: request.model, version: version, environment: request.environment, main: main) }
            guard stale else {
                throw RegistryError.invalidInput("branch '\(branchName)' already exists; delete it or pass --branch")
            }
            try repository.deleteReference(branchRef, expected: existing)
        }
        let title = Registry.promotionTitle(request.kind, model: request.model, version: version, environment: request.environment,
                                            previous: previous, next: next)
        var message = title + "\n"
        if let text = request.message, !text.isEmpty { message += "\n" + text + "\n" }
        if request.force, let reason = request.reason { message += "\nForced past failing gates: \(reason)\n" }
        message += "\nMreg-Model: \(request.model)\nMreg-Version: \(version)\nMreg-Environment: \(request.environment)\n"
        message += "Mreg-Previous: \(previous.map(Registry.describe) ?? "none")\n"
        if let c = next.canary { message += "Mreg-Canary: \(c.version) \(c.weight)%\n" }
        if request.kind == .rollback { message += "Mreg-Rollback: true\n" }
        if verdict.forced != nil, let reason = request.reason { message += "Mreg-Forced: \(reason.replacingOccurrences(of: "\n", with: " "))\n" }

        var newManifest = manifest
        newManifest.models[request.model] = next
        let blob = try repository.writeBlob(Data(newManifest.render().utf8))
        let commit = try self.commit([Manifest.path(request.environment): .blob(blob)], onBranch: branchRef, parent: main.commit,
                                     newBranch: true, message: message)
        var promotion = Promotion(
            model: request.model, version: version, environment: request.environment, kind: request.kind, previous: previous, next: next,
            branch: branchName, commit: commit, base: main.commit, gates: gates, forced: verdict.forced != nil && !failed.isEmpty,
            reason: request.reason, title: title, body: "")
        promotion.body = try pullRequestBody(promotion, main: main, record: record, metrics: metricsFile, card: card, champion: champion)
        return promotion
    }

    /// Deletes a promotion's branch after a step that followed it failed (a refused push, say),
    /// so nothing half-done is left; a branch that moved since is left alone.
    public func discardBranch(_ promotion: Promotion) {
        try? repository.deleteReference("refs/heads/" + promotion.branch, expected: promotion.commit)
    }

    /// True when `tip` is a promotion commit of this same change made by mreg on top of main or an
    /// older main: a retry may replace it.
    func isEarlierAttempt(_ tip: ObjectID, model: String, version: String, environment: String, main: Snapshot) throws -> Bool {
        let info = try repository.commit(tip)
        guard info.parents.count == 1, try repository.isAncestor(info.parents[0], of: main.commit) else { return false }
        let trailers = Trailers(message: info.message)
        return trailers["Mreg-Model"] == model && trailers["Mreg-Version"] == version && trailers["Mreg-Environment"] == environment
    }

    /// Moves main to the promotion (a fast-forward, by compare-and-swap). When main moved since the
    /// promotion was built, it is rebuilt on the new main and tried again; a promotion that no longer
    /// applies (the other change made it moot or invalid) fails with the reason.
    public func merge(_ promotion: Promotion, request: PromotionRequest, attempts: Int = 5) throws -> Promotion {
        let mainRef = "refs/heads/" + (try self.main().config()).mainBranch
        var current = promotion
        for attempt in 0..<attempts {
            do {
                try repository.moveBranch(mainRef, to: current.commit, expected: current.base, message: "mreg: merge \(current.branch)")
                current.merged = current.commit
                // Merged: the branch has served its purpose, as after a pull request.
                try? repository.deleteReference("refs/heads/" + current.branch, expected: current.commit)
                return current
            } catch GitError.refMoved {
                guard attempt + 1 < attempts else { break }
                // Rebuild on the new main: the other promotion's change is kept, ours applied on top.
                try repository.deleteReference("refs/heads/" + current.branch, expected: current.commit)
                var again = request
                again.branch = current.branch
                current = try promote(again)
            }
        }
        throw RegistryError.branchMoved(shortName(mainRef))
    }

    /// `v3` or `v3 (canary v4 10%)`.
    public static func describe(_ d: Deployment) -> String {
        d.version + (d.canary.map { " (canary \($0.version) \($0.weight)%)" } ?? "")
    }

    static func promotionTitle(_ kind: PromotionRequest.Kind, model: String, version: String, environment: String,
                               previous: Deployment?, next: Deployment) -> String {
        if kind == .rollback { return "Roll back \(model) in \(environment) to \(version)" }
        if let c = next.canary { return "Canary \(model) \(c.version) at \(c.weight)% in \(environment)" }
        if previous?.canary?.version == version { return "Complete the rollout of \(model) \(version) in \(environment)" }
        return "Promote \(model) \(version) to \(environment)"
    }

    /// True when `environment`'s manifest on main's first-parent history ever served `version`
    /// (as the stable version or as a canary).
    func hasServed(model: String, version: String, environment: String, main: Snapshot) throws -> Bool {
        if let d = try main.manifest(environment)?.models[model], d.version == version || d.canary?.version == version { return true }
        return try deploymentHistory(model: model, environment: environment, main: main).contains {
            $0.deployment?.version == version || $0.deployment?.canary?.version == version
        }
    }

    /// The stable version served before `current`, from main's history.
    func servedBefore(model: String, environment: String, current: String, main: Snapshot) throws -> String? {
        for entry in try deploymentHistory(model: model, environment: environment, main: main) {
            if let v = entry.deployment?.version, v != current { return v }
        }
        return nil
    }

    /// Each state a model's deployment in an environment had on main, newest first, with the commit
    /// that made it.
    func deploymentHistory(model: String, environment: String, main: Snapshot) throws -> [(commit: ObjectID, deployment: Deployment?)] {
        var out = [(commit: ObjectID, deployment: Deployment?)]()
        for state in try manifestStates(environment: environment, main: main) {
            let d = state.models[model]
            // Runs of states that agree on this model: the oldest commit of the run made it.
            if let last = out.last, last.deployment == d {
                out[out.count - 1].commit = state.commit
            } else {
                out.append((state.commit, d))
            }
        }
        return out
    }

    /// Each version of an environment's manifest on main's first-parent history, newest first, with
    /// the commit that introduced it; an absent or invalid manifest reads as serving nothing.
    func manifestStates(environment: String, main: Snapshot) throws -> [(commit: ObjectID, models: [String: Deployment])] {
        var states = [(commit: ObjectID, models: [String: Deployment])]()
        try walkManifestStates(environment: environment, main: main) { state in
            states.append(state)
            return true
        }
        return states
    }

    /// Walks the versions of an environment's manifest on main, newest first, until `body` returns
    /// false. A state's commit is the one that introduced it, so a state is handed over only once
    /// the walk has passed its whole run of commits.
    func walkManifestStates(environment: String, main: Snapshot,
                            _ body: ((commit: ObjectID, models: [String: Deployment])) throws -> Bool) throws {
        let path = prefix + Manifest.path(environment)
        var parsed = [ObjectID: [String: Deployment]]()
        var pending: (blob: ObjectID?, commit: ObjectID)?
        func models(_ blob: ObjectID?) throws -> [String: Deployment] {
            guard let blob else { return [:] }
            if let known = parsed[blob] { return known }
            let text = String(decoding: try repository.blob(blob), as: UTF8.self)
            let m = (try? Manifest.parse(text, file: Manifest.path(environment)))?.models ?? [:]
            parsed[blob] = m
            return m
        }
        var stopped = false
        try changeIndex.walk(from: main.commit) { commit, change in
            guard change.deploy else { return true }
            let blob = try repository.entry(at: path, inTree: try repository.treeID(ofCommit: commit))?.id
            if let p = pending {
                // Walking back through a run of the same file: the oldest commit of the run made it.
                if p.blob == blob {
                    pending = (blob, commit)
                    return true
                }
                guard try body((p.commit, try models(p.blob))) else {
                    stopped = true
                    return false
                }
            }
            pending = (blob, commit)
            return true
        }
        if !stopped, let p = pending { _ = try body((p.commit, try models(p.blob))) }
    }

    /// The pull-request body: what changes, gates, metrics against the replaced version, lineage, card.
    func pullRequestBody(_ p: Promotion, main: Snapshot, record: VersionRecord, metrics: MetricsFile?, card: ModelCard?,
                         champion: (version: String, metrics: [String: Double])?) throws -> String {
        var out = "## \(p.title)\n\n"
        out += "`deploy/\(p.environment).yaml` on `\(try main.config().mainBranch)` (\(p.base.short)):\n\n"
        out += "| | version | canary |\n|---|---|---|\n"
        out += "| now | \(p.previous?.version ?? "none") | \(p.previous?.canary.map { "\($0.version) (\($0.weight)%)" } ?? "–") |\n"
        out += "| after merge | \(p.next.version) | \(p.next.canary.map { "\($0.version) (\($0.weight)%)" } ?? "–") |\n\n"
        if p.forced { out += "> ⚠️ **Forced** past failing gates: \(p.reason ?? "no reason given"). The commit carries an `Mreg-Forced` trailer.\n\n" }
        out += "### Gates of \(p.environment)\n\n| rule | result | detail |\n|---|---|---|\n"
        for g in p.gates { out += "| `\(g.rule)` | \(g.passed ? "✅ pass" : "❌ fail") | \(g.detail.replacingOccurrences(of: "|", with: "\\|")) |\n" }
        let mine = metrics?.primary ?? [:]
        if !mine.isEmpty {
            out += "\n### Metrics (recorded test split)\n\n| metric | \(p.version) |" + (champion.map { " \($0.version) (now) | Δ |" } ?? "") + "\n"
            out += "|---|---:|" + (champion != nil ? "---:|---:|" : "") + "\n"
            for key in mine.keys.sorted() {
                out += "| \(key) | \(Reports.num(mine[key]!)) |"
                if let champion {
                    if let c = champion.metrics[key] { out += " \(Reports.num(c)) | \(mine[key]! - c >= 0 ? "+" : "")\(Reports.num(mine[key]! - c)) |" } else { out += " – | – |" }
                }
                out += "\n"
            }
        }
        out += "\n### Lineage of \(p.model)@\(p.version)\n\n"
        out += "- registered \(record.created) by \(record.author) (\(record.source.kind)" + (record.source.command.map { ": `\($0)`" } ?? "") + ")\n"
        if let a = record.algorithm { out += "- algorithm `\(a)`" + (record.seed.map { ", seed \($0)" } ?? "") + "\n" }
        if case .object(let params) = record.params, !params.isEmpty {
            out += "- params: " + params.keys.sorted().map { "`\($0)=\(YAMLNode.scalar(params[$0]!))`" }.joined(separator: " ") + "\n"
        }
        for d in record.data { out += "- \(d.role) data `\(d.path)` sha256 `\(d.sha256.prefix(16))…`" + (d.rows.map { ", \($0) rows" } ?? "") + "\n" }
        if let c = record.source.codeCommit { out += "- code commit `\(c)`\n" }
        out += "\n### Model card\n\n"
        if let card {
            for field in ModelCard.requiredFields { out += "- **\(field)**: \(card.text(field) ?? "_empty_")\n" }
        } else {
            out += "_No card._\n"
        }
        return out
    }
}

/// A promotion stopped by its gates: one line per failed rule.
public struct PromotionRefused: Error, CustomStringConvertible {
    public var failures: [RuleResult]
    public var description: String {
        failures.map { "gate '\($0.rule)' failed: \($0.detail)" }.joined(separator: "\n")
    }
}

extension Registry {
    /// Pushes a branch to a remote given by name (`origin`) or URL, with credentials from the
    /// environment (docs/remotes.md); returns where it went, credentials redacted.
    public func push(branch: String, remote: String) throws -> String {
        let ref = branch.hasPrefix("refs/") ? branch : "refs/heads/" + branch
        guard try repository.referenceTarget(ref) != nil else { throw RegistryError.invalidInput("no branch '\(branch)' to push") }
        try repository.push(url: remote, refspecs: ["\(ref):\(ref)"], credentials: Credentials.fromEnvironment(environment))
        let url = (try? repository.remoteURL(name: remote)) ?? nil
        return redactedURL(url ?? remote)
    }
}
