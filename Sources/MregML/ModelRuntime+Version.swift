import Foundation
import MregCore

/// A registered version's model, loaded into a scorer from the exact registered file.
public struct VersionScorer: Sendable {
    /// The model file, relative to the version's folder.
    public var file: String
    public var scorer: any Scorer
}

extension ModelRuntime {
    /// The order files are tried in when no format is recorded: `model.json` first, then by path.
    public static func searchOrder(_ a: String, _ b: String) -> Bool {
        (a == "model.json") != (b == "model.json") ? a == "model.json" : a < b
    }

    /// Loads a registered version's artifact: the file and format its `version.yaml` records (versions
    /// registered before mreg recorded them are recognised by content, `model.json` first), checked
    /// against the recorded size and SHA-256, with the input names recorded at registration.
    ///
    /// `folder` names the version in errors; `read` returns one of its files by relative path, nil when absent.
    public static func load(version record: VersionRecord, folder: String, read: (String) throws -> Data?) throws -> VersionScorer {
        let candidates: [VersionFile]
        var format: ModelFormat?
        if let recorded = record.format {
            guard let artifact = record.artifact, let file = record.files.first(where: { $0.path == artifact }) else {
                throw MLError.invalidModel("\(record.model)@\(record.version) records format '\(recorded)' but no artifact file to score")
            }
            guard let known = ModelFormat(rawValue: recorded) else {
                throw MLError.invalidModel("'\(folder)/\(artifact)' is format '\(recorded)': no runtime here scores it")
            }
            candidates = [file]
            format = known
        } else {
            candidates = record.files.sorted { ModelRuntime.searchOrder($0.path, $1.path) }
        }
        for file in candidates {
            guard let bytes = try read(file.path) else {
                if format != nil { throw MLError.invalidModel("'\(folder)/\(file.path)': listed in version.yaml but missing") }
                continue
            }
            guard format != nil || ModelFormat.detect(bytes) != nil else { continue }
            guard bytes.count == file.size, SHA256.hex(bytes) == file.sha256 else {
                throw MLError.invalidModel("'\(folder)/\(file.path)': checksum differs from version.yaml, refusing to score it")
            }
            var scorer = try load(bytes, format: format, source: "\(folder)/\(file.path)")
            if !record.features.isEmpty { scorer = try RenamedScorer(scorer, names: record.features) }
            return VersionScorer(file: file.path, scorer: scorer)
        }
        let names = record.files.map(\.path).joined(separator: ", ")
        throw MLError.invalidModel("\(record.model)@\(record.version) has no model file mreg can score (files: \(names.isEmpty ? "none" : names); formats: \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
}
