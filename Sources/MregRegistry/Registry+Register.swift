import Foundation
import MregCore
import MregGit

/// The files of a version about to be registered, read and checked.
public struct VersionContent {
    /// Artifact files by path inside the version folder.
    public var files: [String: Data]
    public var metrics: MetricsFile?
    /// A complete card text; nil to generate one from the template.
    public var card: String?
    /// The artifact's format as stated (`--format`); nil to recognise it by content.
    public var format: String?
    /// Input names for a model file that names none (`--features`).
    public var featureNames: [String] = []
    /// Training data (`--data`) to describe in `baseline.json`, when the files hold none.
    public var trainingData: String?
    /// Skip the baseline instead of failing when the model or the target is unknown (`mreg train -- ...`).
    public var baselineIfPossible = false
    /// The target column, for the baseline and for evaluation; nil: model.yaml's.
    public var target: String?

    public init(files: [String: Data], metrics: MetricsFile? = nil, card: String? = nil) {
        self.files = files
        self.metrics = metrics
        self.card = card
    }

    /// Reads a folder produced elsewhere: regular files only (symbolic links and special files are
    /// refused), names of `[A-Za-z0-9._-]`; `metrics.json` and `card.md` in it count as the metrics
    /// and the card unless `metricsFile`/`cardFile` are given.
    public static func read(folder: String, metricsFile: String? = nil, cardFile: String? = nil) throws -> VersionContent {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw RegistryError.invalidInput("--from '\(folder)' is not a folder")
        }
        var files = [String: Data]()
        try collect(root: folder, relative: "", into: &files)
        var content = VersionContent(files: files)
        if let metricsFile {
            content.metrics = try MetricsFile.parseInput(try readFile(metricsFile, what: "--metrics"), file: metricsFile)
        } else if let data = files[MetricsFile.fileName] {
            content.metrics = try MetricsFile.parseInput(data, file: folder + "/" + MetricsFile.fileName)
        }
        content.files[MetricsFile.fileName] = nil
        if let cardFile {
            content.card = String(decoding: try readFile(cardFile, what: "--card"), as: UTF8.self)
            content.files[ModelCard.fileName] = nil
        } else if let data = files[ModelCard.fileName] {
            content.card = String(decoding: data, as: UTF8.self)
            content.files[ModelCard.fileName] = nil
        }
        guard !content.files.isEmpty else {
            throw RegistryError.invalidInput("--from '\(folder)' holds no artifact files")
        }
        return content
    }

    static func readFile(_ path: String, what: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw RegistryError.invalidInput("\(what) '\(path)' is not a file")
        }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    private static func collect(root: String, relative: String, into files: inout [String: Data]) throws {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            guard Names.isValidFilePath(rel) else {
                throw RegistryError.invalidInput("'\(full)': file names may use A-Z a-z 0-9 . _ - only (at most 8 folders deep)")
            }
            var st = stat()
            guard lstat(full, &st) == 0 else { throw RegistryError.invalidInput("cannot read '\(full)'") }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                throw RegistryError.invalidInput("'\(full)' is a symbolic link; a version holds regular files only")
            case S_IFDIR:
                try collect(root: root, relative: rel, into: &files)
            case S_IFREG:
                if relative.isEmpty && name == VersionRecord.fileName {
                    throw RegistryError.invalidInput("'\(full)': version.yaml is written by mreg and may not be supplied")
                }
                guard files.count < 10_000 else { throw RegistryError.invalidInput("'\(root)' holds more than 10000 files") }
                files[rel] = try Data(contentsOf: URL(fileURLWithPath: full))
            default:
                throw RegistryError.invalidInput("'\(full)' is not a regular file")
            }
        }
    }
}

/// What `register` (or `train`) produced.
public struct Registration {
    public var model: String
    public var version: String
    public var commit: ObjectID
    public var branch: String
    public var record: VersionRecord
    /// What can and cannot be done with a version no runtime here scores; nil when one does.
    public var note: String?
}

extension Registry {
    /// Registers `content` as the next version of `model` in one commit on the current branch,
    /// retrying with a fresh version number when another writer commits first.
    ///
    /// `prepare` fills in the lineage (source, params, data...) of the version record; mreg sets
    /// model, version, author, created time and the file list.
    public func register(
        model: String, content: VersionContent, modelSpec: ModelSpec? = nil, message: String?,
        prepare: (inout VersionRecord) -> Void = { _ in }
    ) throws -> Registration {
        _ = try Names.model(model)
        let branch = try currentBranch()
        let identity = try identity()
        var blobs = [String: TreeChange]()
        var listed = [VersionFile]()
        for (path, data) in content.files.sorted(by: { $0.key < $1.key }) {
            blobs[path] = .blob(try repository.writeBlob(data))
            listed.append(VersionFile(path: path, size: data.count, sha256: SHA256.hex(data)))
        }
        if let metrics = content.metrics {
            let data = metrics.encoded()
            blobs[MetricsFile.fileName] = .blob(try repository.writeBlob(data))
            listed.append(VersionFile(path: MetricsFile.fileName, size: data.count, sha256: SHA256.hex(data)))
        }
        if let card = content.card { _ = try ModelCard.parse(card, file: ModelCard.fileName) }
        let prior = try head().modelSpecIfPresent(model)
        let described = try describe(content, spec: modelSpec ?? prior)
        for (path, data) in described.extraFiles {
            blobs[path] = .blob(try repository.writeBlob(data))
            listed.append(VersionFile(path: path, size: data.count, sha256: SHA256.hex(data)))
        }
        listed.sort { $0.path < $1.path }

        var reserved: String?
        return try retrying(branch: branch) {
            let snap = try head()
            let existing = try snap.versionNames(model)
            if reserved == nil || existing.contains(reserved!) {
                // The number comes from the reservation every branch shares, above what this
                // branch and main hold.
                let main = try mainIfFound()
                let onMain = try main?.versionNames(model) ?? []
                let floor = (existing + onMain).compactMap(Names.versionNumber).max() ?? 0
                let target = main?.commit ?? snap.commit
                reserved = try reserveVersion(model: model, floor: floor, target: target)
            }
            let version = reserved!
            let dir = Snapshot.versionPath(model, version)
            var changes = [String: TreeChange]()
            for (path, change) in blobs { changes[dir + "/" + path] = change }
            var spec = try snap.modelSpecIfPresent(model)
            let learned = described.learn(modelSpec ?? spec, model: model)
            if spec == nil || modelSpec != nil || learned != spec {
                var newSpec = learned ?? ModelSpec(name: model)
                if let old = spec {
                    newSpec.description = newSpec.description ?? old.description
                    newSpec.owner = newSpec.owner ?? old.owner
                    newSpec.evaluationData = newSpec.evaluationData ?? old.evaluationData
                    if newSpec.features.isEmpty { newSpec.features = old.features }
                }
                if newSpec != spec {
                    changes[ModelSpec.path(model)] = .blob(try repository.writeBlob(Data(newSpec.render().utf8)))
                }
                spec = newSpec
            }
            var record = VersionRecord(
                model: model, version: version, created: isoTime(identity.committer), author: identity.author.formatted,
                source: VersionSource(kind: "register", message: message))
            record.task = spec?.task
            record.target = spec?.target
            if let fingerprint = described.fingerprint { record.data = [fingerprint] }
            prepare(&record)
            described.apply(to: &record)
            record.model = model
            record.version = version
            record.files = listed
            record.source.codeCommit = record.source.codeCommit ?? codeCommit()
            changes[dir + "/" + VersionRecord.fileName] = .blob(try repository.writeBlob(Data(record.render().utf8)))
            let card = try content.card ?? defaultCard(record: record, metrics: content.metrics)
            changes[dir + "/" + ModelCard.fileName] = .blob(try repository.writeBlob(Data(card.utf8)))
            var text = "Register \(model) \(version)\n"
            if let message, !message.isEmpty { text += "\n" + message + "\n" }
            text += "\nMreg-Model: \(model)\nMreg-Version: \(version)\n"
            let commit = try self.commit(changes, onBranch: branch, parent: snap.commit, message: text)
            return Registration(model: model, version: version, commit: commit, branch: branch, record: record,
                                note: described.artifact.note)
        }
    }

    /// The commit of the code that produced a version: `MREG_CODE_COMMIT`, or the CI system's
    /// (`GITHUB_SHA`, `CI_COMMIT_SHA`), or nil.
    func codeCommit() -> String? {
        for key in ["MREG_CODE_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA"] {
            if let v = environment[key], !v.isEmpty { return v }
        }
        return nil
    }
}

/// A signature's time in ISO 8601 UTC.
func isoTime(_ signature: Signature) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: signature.date)
}
