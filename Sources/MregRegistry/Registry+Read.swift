import Foundation
import MregCore
import MregGit

/// One model in `mreg list`.
public struct ModelSummary {
    public var name: String
    public var task: String?
    public var versionCount: Int
    public var latest: String?
    /// Environment -> what main serves there, in promotion order.
    public var deployments: [(environment: String, deployment: Deployment?)]
}

/// One version in `mreg list MODEL`.
public struct VersionSummary {
    public var version: String
    public var created: String
    public var author: String
    public var source: String
    public var metrics: [String: Double]
    /// Environments whose manifest on main serves this version (stable or canary).
    public var environments: [String]
}

/// Everything `mreg show` prints about a version.
public struct VersionDetail {
    public var record: VersionRecord
    public var metrics: MetricsFile?
    public var card: ModelCard?
    public var evaluations: [String]
    public var environments: [String]
    public var commit: ObjectID
}

/// One row of `mreg diff`.
public struct DiffRow {
    public var section: String
    public var key: String
    public var a: JSONValue?
    public var b: JSONValue?

    /// `b - a` for two numbers.
    public var delta: Double? {
        guard let x = a?.doubleValue, let y = b?.doubleValue else { return nil }
        return y - x
    }
}

/// One event of a model's history.
public struct HistoryEvent {
    public enum Kind: String { case registered, card, evaluation, changed, removed, deployed, canary, undeployed, invalid }
    public var kind: Kind
    public var commit: ObjectID
    public var author: String
    public var time: Int64
    public var version: String?
    public var environment: String?
    public var previous: String?
    public var detail: String
    public var summary: String
    /// For a deployment change: the reason of the `Mreg-Forced` trailer it landed with, if any.
    public var forced: String?
}

extension Registry {
    /// Every model with its version count, latest version and what each environment serves on main.
    public func listModels() throws -> [ModelSummary] {
        let snap = try head()
        let main = try self.main()
        let manifests = try main.manifests()
        let cache = SummaryCache(repository: repository)
        defer { cache.save() }
        return try snap.modelEntries().map { entry in
            let name = entry.name
            let s = try cache.summary(entry.id) {
                let versions = try snap.versionNames(name)
                return [
                    "versions": .number(Double(versions.count)), "latest": versions.last.map(JSONValue.string) ?? .null,
                    "task": (try? snap.modelSpec(name))?.task.map(JSONValue.string) ?? .null,
                ]
            }
            return ModelSummary(
                name: name, task: s["task"]?.stringValue, versionCount: s["versions"]?.intValue ?? 0, latest: s["latest"]?.stringValue,
                deployments: manifests.map { ($0.environment, $0.manifest.models[name]) })
        }
    }

    /// A model's versions with their key metrics, oldest first.
    public func listVersions(_ model: String) throws -> [VersionSummary] {
        let snap = try head()
        try snap.requireModel(model)
        let manifests = try self.main().manifests()
        let cache = SummaryCache(repository: repository)
        defer { cache.save() }
        return try snap.versionEntries(model).map { entry in
            let s = try versionSummary(snap: snap, model: model, version: entry.name, tree: entry.id, cache: cache)
            return VersionSummary(
                version: entry.name, created: s["created"]?.stringValue ?? "", author: s["author"]?.stringValue ?? "",
                source: s["source"]?.stringValue ?? "", metrics: (s["metrics"]?.objectValue ?? [:]).compactMapValues(\.doubleValue),
                environments: Registry.environments(serving: model, version: entry.name, in: manifests))
        }
    }

    /// What `list` and `status` need of a version, derived once per version tree (a card edit makes a
    /// new tree, so the summary follows it).
    func versionSummary(snap: Snapshot, model: String, version: String, tree: ObjectID, cache: SummaryCache) throws -> JSONValue {
        try cache.summary(tree) {
            let record = try snap.versionRecord(model, version)
            let metrics = try snap.metrics(model, version)
            let card = try snap.card(model, version)
            return [
                "created": .string(record.created), "author": .string(record.author), "source": .string(record.source.kind),
                "task": record.task.map(JSONValue.string) ?? .null,
                "metrics": .object((metrics?.primary ?? [:]).mapValues(JSONValue.number)),
                "cardMissing": card.map { .array($0.missingFields.map(JSONValue.string)) } ?? .null,
                "cardMismatches": .array((card.map { Registry.cardMetricIssues(card: $0, metrics: metrics) } ?? []).map(JSONValue.string)),
            ]
        }
    }

    static func environments(serving model: String, version: String, in manifests: [(environment: String, manifest: Manifest)]) -> [String] {
        manifests.compactMap { e in
            guard let d = e.manifest.models[model] else { return nil }
            if d.version == version { return e.environment }
            if d.canary?.version == version { return e.environment + " (canary \(d.canary!.weight)%)" }
            return nil
        }
    }

    /// Resolves `MODEL@VERSION` on the current branch or `MODEL@ENV` through main's manifest.
    public func resolve(_ reference: ModelReference) throws -> (snapshot: Snapshot, version: String) {
        let snap = try head()
        switch reference.target {
        case .version:
            return (snap, try snap.resolve(reference))
        case .environment:
            let version = try self.main().resolve(reference)
            let where_ = try snap.entry(Snapshot.versionPath(reference.model, version)) != nil ? snap : try self.main()
            return (where_, version)
        }
    }

    /// Lineage, files, metrics, card and deployments of one version.
    public func show(_ reference: ModelReference) throws -> VersionDetail {
        let (snap, version) = try resolve(reference)
        let model = reference.model
        let record = try snap.versionRecord(model, version)
        let evaluations = try snap.entry(Snapshot.versionPath(model, version) + "/evaluations").map { e in
            e.kind == .tree ? try repository.entries(ofTree: e.id).map(\.name).sorted() : []
        } ?? []
        return VersionDetail(
            record: record, metrics: try snap.metrics(model, version), card: try snap.card(model, version),
            evaluations: evaluations,
            environments: Registry.environments(serving: model, version: version, in: try self.main().manifests()),
            commit: snap.commit)
    }

    /// Parameters, lineage and metrics of two versions side by side.
    public func diff(_ a: ModelReference, _ b: ModelReference) throws -> (a: String, b: String, rows: [DiffRow]) {
        let (snapA, va) = try resolve(a)
        let (snapB, vb) = try resolve(b)
        let ra = try snapA.versionRecord(a.model, va), rb = try snapB.versionRecord(b.model, vb)
        var rows = [DiffRow]()
        func add(_ section: String, _ key: String, _ x: JSONValue?, _ y: JSONValue?) {
            if x == nil && y == nil { return }
            rows.append(DiffRow(section: section, key: key, a: x, b: y))
        }
        add("lineage", "created", .string(ra.created), .string(rb.created))
        add("lineage", "source", .string(ra.source.kind), .string(rb.source.kind))
        add("lineage", "algorithm", ra.algorithm.map(JSONValue.string), rb.algorithm.map(JSONValue.string))
        add("lineage", "seed", ra.seed.map { .number(Double($0)) }, rb.seed.map { .number(Double($0)) })
        let dataA = Dictionary(ra.data.map { ($0.role, $0) }, uniquingKeysWith: { x, _ in x })
        let dataB = Dictionary(rb.data.map { ($0.role, $0) }, uniquingKeysWith: { x, _ in x })
        for role in Set(dataA.keys).union(dataB.keys).sorted() {
            add("data", role, dataA[role].map { .string(String($0.sha256.prefix(12))) }, dataB[role].map { .string(String($0.sha256.prefix(12))) })
            add("data", role + ".rows", dataA[role]?.rows.map { .number(Double($0)) }, dataB[role]?.rows.map { .number(Double($0)) })
        }
        let pa = ra.params.objectValue ?? [:], pb = rb.params.objectValue ?? [:]
        for key in Set(pa.keys).union(pb.keys).sorted() { add("params", key, pa[key], pb[key]) }
        let ma = try snapA.metrics(a.model, va)?.splits ?? [:], mb = try snapB.metrics(b.model, vb)?.splits ?? [:]
        for split in Set(ma.keys).union(mb.keys).sorted() {
            let x = ma[split] ?? [:], y = mb[split] ?? [:]
            for key in Set(x.keys).union(y.keys).sorted() {
                add("metrics." + split, key, x[key].map(JSONValue.number), y[key].map(JSONValue.number))
            }
        }
        return ("\(a.model)@\(va)", "\(b.model)@\(vb)", rows)
    }

    /// Registrations, card edits, evaluations and deployment changes of a model, newest first,
    /// from the first-parent history of the current branch (so merges from pull requests, squash
    /// merges and rebases all count once, when they landed). `deploymentsOnly` skips the model's own
    /// commits (registrations, cards, evaluations): what a deployment timeline needs, at less cost.
    public func history(_ model: String, limit: Int = .max, deploymentsOnly: Bool = false) throws -> [HistoryEvent] {
        let snap = try head()
        try snap.requireModel(model)
        let modelPath = prefix + "models/" + model
        let deployPath = prefix + "deploy"
        var events = [HistoryEvent]()
        let index = changeIndex
        // Consecutive changes share blobs (one change's new manifest is the next one's old).
        var parsed = [ObjectID: Result<Deployment?, Error>]()
        for (commitID, change) in try index.chain(from: snap.commit) where change.deploy || (!deploymentsOnly && change.models.contains(model)) {
            guard events.count < limit else { break }
            let tree = try repository.treeID(ofCommit: commitID)
            let entries = [try repository.entry(at: modelPath, inTree: tree)?.id, try repository.entry(at: deployPath, inTree: tree)?.id]
            let info = try repository.commit(commitID)
            let parent = info.parents.first
            let parentTree = try parent.map { p in try repository.treeID(ofCommit: p) }
            let oldModel = try parentTree.flatMap { t in try repository.entry(at: modelPath, inTree: t)?.id }
            let oldDeploy = try parentTree.flatMap { t in try repository.entry(at: deployPath, inTree: t)?.id }
            let forced = oldDeploy != entries[1] ? try landedForceReason(info) : nil
            func event(_ kind: HistoryEvent.Kind, version: String? = nil, environment: String? = nil, previous: String? = nil, _ detail: String) {
                let isDeploy = kind == .deployed || kind == .canary
                events.append(HistoryEvent(
                    kind: kind, commit: commitID, author: info.author.formatted, time: info.committer.time, version: version,
                    environment: environment, previous: previous,
                    detail: detail + (isDeploy ? forced.map { " (FORCED: \($0))" } ?? "" : ""), summary: info.summary,
                    forced: isDeploy ? forced : nil))
            }
            if !deploymentsOnly && oldModel != entries[0] {
                var byVersion = [String: [FileChange]]()
                for change in try repository.diffTrees(oldModel, entries[0]) {
                    let parts = change.path.split(separator: "/", maxSplits: 1)
                    guard parts.count == 2, Names.versionNumber(String(parts[0])) != nil else { continue }
                    byVersion[String(parts[0]), default: []].append(change)
                }
                for version in byVersion.keys.sorted(by: { Names.versionNumber($0)! < Names.versionNumber($1)! }) {
                    let changes = byVersion[version]!
                    let files = changes.map { String($0.path.dropFirst(version.count + 1)) }
                    if changes.contains(where: { $0.path == version + "/version.yaml" && $0.status == .added }) {
                        event(.registered, version: version, "registered \(version)")
                    } else if changes.allSatisfy({ $0.status == .deleted }) && changes.contains(where: { $0.path == version + "/version.yaml" }) {
                        event(.removed, version: version, "removed \(version)")
                    } else if files.allSatisfy({ $0 == ModelCard.fileName }) {
                        event(.card, version: version, "card of \(version) edited")
                    } else if files.allSatisfy({ $0.hasPrefix("evaluations/") }) && changes.allSatisfy({ $0.status == .added }) {
                        event(.evaluation, version: version, "evaluation recorded for \(version)")
                    } else {
                        event(.changed, version: version, "files of \(version) changed: \(files.sorted().joined(separator: ", "))")
                    }
                }
            }
            if oldDeploy != entries[1] {
                for change in try repository.diffTrees(oldDeploy, entries[1]) where change.path.hasSuffix(".yaml") && !change.path.contains("/") {
                    let env = String(change.path.dropLast(5))
                    let path = Manifest.path(env)
                    func read(_ id: ObjectID?) -> Result<Deployment?, Error> {
                        guard let id else { return .success(nil) }
                        if let known = parsed[id] { return known }
                        let result = Result {
                            let text = String(decoding: try repository.blob(id), as: UTF8.self)
                            return try Manifest.parse(text, file: path).models[model]
                        }
                        parsed[id] = result
                        return result
                    }
                    switch (read(change.oldID), read(change.newID)) {
                    case (_, .failure(let error)):
                        event(.invalid, environment: env, "\(path) invalid: \(error)")
                    case (let before, .success(let after)):
                        let old = (try? before.get()) ?? nil
                        if old == after { continue }
                        if let after {
                            if old?.version != after.version {
                                event(.deployed, version: after.version, environment: env, previous: old?.version,
                                      "\(env): \(old?.version ?? "none") -> \(after.version)")
                            }
                            if old?.canary != after.canary {
                                if let c = after.canary {
                                    event(.canary, version: c.version, environment: env, previous: after.version,
                                          "\(env): canary \(c.version) at \(c.weight)% beside \(after.version)")
                                } else if old?.version == after.version {
                                    event(.canary, version: after.version, environment: env, "\(env): canary ended, \(after.version) serves all")
                                }
                            }
                        } else if let old {
                            event(.undeployed, version: old.version, environment: env, previous: old.version, "\(env): \(old.version) removed")
                        }
                    }
                }
            }
        }
        return events
    }
}
