import Foundation
import MregCore
import MregGit

/// One thing `mreg verify` found wrong.
public struct Problem: Equatable, CustomStringConvertible {
    /// The registry path concerned.
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}

/// What `mreg verify` checked and found.
public struct VerifyReport {
    public var commit: ObjectID
    public var models: Int
    public var versions: Int
    public var files: Int
    public var commitsChecked: Int
    public var problems: [Problem]
    public var ok: Bool { problems.isEmpty }
}

extension Registry {
    /// Checks the registry at the tip of the current branch: every file's checksum and size, no file
    /// changed by any commit since its version was registered (card.md excepted, evaluations only
    /// added), every manifest valid and naming versions that exist, cards agreeing with metrics.
    public func verify() throws -> VerifyReport {
        let snap = try head()
        var report = VerifyReport(commit: snap.commit, models: 0, versions: 0, files: 0, commitsChecked: 0, problems: [])
        func problem(_ path: String, _ message: String) { report.problems.append(Problem(path: path, message: message)) }
        func attempt(_ path: String, _ body: () throws -> Void) {
            do { try body() } catch { problem(path, "\(error)".replacingOccurrences(of: path + ": ", with: "")) }
        }

        attempt(RegistryConfig.fileName) { _ = try snap.config() }
        var known = [String: Set<String>]()
        for model in try snap.modelNames() {
            report.models += 1
            attempt(ModelSpec.path(model)) { _ = try snap.modelSpec(model) }
            var versions = Set<String>()
            for entry in try snap.versionEntries(model) {
                let version = entry.name
                versions.insert(version)
                report.versions += 1
                let dir = Snapshot.versionPath(model, version)
                // Each problem is named after the file it is in: a corrupt artifact is not version.yaml's fault.
                var record: VersionRecord?
                attempt(dir + "/" + VersionRecord.fileName) { record = try snap.versionRecord(model, version) }
                guard let record else { continue }
                attempt(dir) { try verifyFiles(snap: snap, dir: dir, tree: entry.id, record: record, report: &report) }
                if record.model != model || record.version != version {
                    problem(dir + "/" + VersionRecord.fileName, "says \(record.model)@\(record.version), but lies in \(dir)")
                }
                var metrics: MetricsFile?
                attempt(dir + "/" + MetricsFile.fileName) { metrics = try snap.metrics(model, version) }
                attempt(dir + "/" + ModelCard.fileName) {
                    if let card = try snap.card(model, version) {
                        for issue in Registry.cardMetricIssues(card: card, metrics: metrics) {
                            problem(dir + "/" + ModelCard.fileName, issue)
                        }
                        for (key, expected) in [("model", model), ("version", version)] {
                            if let stated = card.fields[key]?.stringValue, stated != expected {
                                problem(dir + "/" + ModelCard.fileName, "its \(key) is '\(stated)', but the card lies in \(dir)")
                            }
                        }
                    } else {
                        problem(dir + "/" + ModelCard.fileName, "missing")
                    }
                }
            }
            known[model] = versions
        }
        if let config = try? snap.config() {
            for env in config.environments {
                let path = Manifest.path(env.name)
                attempt(path) {
                    guard let manifest = try snap.manifest(env.name) else { return }
                    for (model, d) in manifest.models.sorted(by: { $0.key < $1.key }) {
                        for v in [d.version] + (d.canary.map { [$0.version] } ?? []) where known[model]?.contains(v) != true {
                            problem(path, "names \(model)@\(v), which is not registered")
                        }
                    }
                }
            }
        }
        try verifyHistory(from: snap.commit, report: &report)
        return report
    }

    /// Checks one version's files against the sizes and checksums its `version.yaml` lists, at the
    /// tip of the current branch (what `verify` does per version, without the history walk).
    public func verifyVersion(_ model: String, _ version: String) throws -> [Problem] {
        let snap = try head()
        let dir = Snapshot.versionPath(model, version)
        let record = try snap.versionRecord(model, version)
        guard let entry = try snap.entry(dir), entry.kind == .tree else { throw RegistryError.unknownVersion(model: model, version: version) }
        var report = VerifyReport(commit: snap.commit, models: 1, versions: 1, files: 0, commitsChecked: 0, problems: [])
        try verifyFiles(snap: snap, dir: dir, tree: entry.id, record: record, report: &report)
        return report.problems
    }

    private func verifyFiles(snap: Snapshot, dir: String, tree: ObjectID, record: VersionRecord, report: inout VerifyReport) throws {
        var present = [String: TreeEntry]()
        try collectFiles(tree: tree, prefix: "", into: &present)
        for file in record.files {
            report.files += 1
            guard let entry = present.removeValue(forKey: file.path) else {
                report.problems.append(Problem(path: dir + "/" + file.path, message: "listed in version.yaml but missing"))
                continue
            }
            guard entry.kind == .blob else {
                report.problems.append(Problem(path: dir + "/" + file.path, message: "is not a regular file"))
                continue
            }
            let data: Data
            do {
                data = try repository.blob(entry.id)
            } catch {
                report.problems.append(Problem(path: dir + "/" + file.path, message: "cannot be read from Git: \(error)"))
                continue
            }
            if data.count != file.size {
                report.problems.append(Problem(path: dir + "/" + file.path, message: "size \(data.count) differs from version.yaml's \(file.size)"))
            } else if SHA256.hex(data) != file.sha256 {
                report.problems.append(Problem(path: dir + "/" + file.path, message: "sha256 differs from version.yaml (artifact corrupted or replaced)"))
            }
        }
        for (path, _) in present.sorted(by: { $0.key < $1.key }) {
            if path == VersionRecord.fileName || path == ModelCard.fileName || path.hasPrefix("evaluations/") { continue }
            report.problems.append(Problem(path: dir + "/" + path, message: "not listed in version.yaml"))
        }
    }

    private func collectFiles(tree: ObjectID, prefix: String, into files: inout [String: TreeEntry]) throws {
        for entry in try repository.entries(ofTree: tree) {
            let path = prefix + entry.name
            if entry.kind == .tree {
                try collectFiles(tree: entry.id, prefix: path + "/", into: &files)
            } else {
                files[path] = entry
            }
        }
    }

    /// Metrics a card states that disagree with metrics.json.
    static func cardMetricIssues(card: ModelCard, metrics: MetricsFile?) -> [String] {
        guard let stated = card.statedMetrics else { return [] }
        guard let metrics else { return stated.isEmpty ? [] : ["states metrics but the version has no metrics.json"] }
        let actual = metrics.primary
        var issues = [String]()
        for (key, value) in stated.sorted(by: { $0.key < $1.key }) {
            guard let real = actual[key] else {
                issues.append("states \(key) = \(JSONValue.format(value)), which metrics.json does not have")
                continue
            }
            if abs(real - value) > 1e-9 * max(1, abs(real)) {
                issues.append("states \(key) = \(JSONValue.format(value)) but metrics.json has \(JSONValue.format(real))")
            }
        }
        return issues
    }

    /// Walks every commit reachable from `tip` and reports changes to files of versions that were
    /// already registered in the parent. Merge commits are judged by what they change relative to
    /// every parent (what the merge itself introduced).
    private func verifyHistory(from tip: ObjectID, report: inout VerifyReport) throws {
        let modelsPath = prefix + "models"
        var modelsTreeCache = [ObjectID: ObjectID?]()
        func modelsTree(_ commit: ObjectID) throws -> ObjectID? {
            if let cached = modelsTreeCache[commit] { return cached }
            let root = try repository.treeID(ofCommit: commit)
            let id = try repository.entry(at: modelsPath, inTree: root).flatMap { $0.kind == .tree ? $0.id : nil }
            modelsTreeCache[commit] = id
            return id
        }
        var reported = Set<String>()
        for id in try repository.log(from: tip) {
            report.commitsChecked += 1
            let info = try repository.commit(id)
            guard !info.parents.isEmpty else { continue }
            let mine = try modelsTree(id)
            var perParent = [[String: FileChange]]()
            for parent in info.parents {
                let theirs = try modelsTree(parent)
                if theirs == mine {
                    perParent = []
                    break
                }
                var changes = [String: FileChange]()
                for change in try repository.diffTrees(theirs, mine) where change.status != .added {
                    changes[change.path] = change
                }
                perParent.append(changes)
            }
            guard let first = perParent.first else { continue }
            for (path, change) in first.sorted(by: { $0.key < $1.key }) where perParent.allSatisfy({ $0[path] != nil }) {
                let parts = path.split(separator: "/")
                guard parts.count >= 3, Names.versionNumber(String(parts[1])) != nil else { continue }
                let inVersion = parts.dropFirst(2).joined(separator: "/")
                if inVersion == ModelCard.fileName { continue }
                let key = "\(id.hex) \(path)"
                guard reported.insert(key).inserted else { continue }
                report.problems.append(Problem(
                    path: "models/" + path,
                    message: "\(change.status.rawValue) by commit \(id.short) (\"\(info.summary)\") after registration; versions are immutable"))
            }
        }
    }
}
