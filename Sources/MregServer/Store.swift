import Foundation
import MregCore
import MregML
#if canImport(Glibc)
import Glibc
#endif

/// What a model should serve, as kept in `STORE/MODEL/serving.json`.
public struct ServingState: Sendable, Equatable {
    /// The stable version; nil when the model is unloaded.
    public var version: String?
    public var canaryVersion: String?
    /// Percent (0-100) of requests without a version that go to the canary.
    public var canaryWeight: Int

    public init(version: String?, canaryVersion: String? = nil, canaryWeight: Int = 0) {
        self.version = version
        self.canaryVersion = canaryVersion
        self.canaryWeight = canaryWeight
    }

    static let fileName = "serving.json"

    /// `{"schema": 1, "version": "v3", "canary": {"version": "v4", "weight": 10}}`, or
    /// `{"schema": 1, "unloaded": true}`.
    var json: JSONValue {
        guard let version else { return ["schema": 1, "unloaded": true] }
        var o: [String: JSONValue] = ["schema": 1, "version": .string(version)]
        if let canaryVersion {
            o["canary"] = ["version": .string(canaryVersion), "weight": .number(Double(canaryWeight))]
        }
        return .object(o)
    }

    /// Reads a state file's document; the text of an error names the field.
    init(json: JSONValue) throws(ServerError) {
        guard case .object(let o) = json else { throw .invalidRequest("must be a JSON object") }
        guard o["schema"]?.intValue == 1 else { throw .invalidRequest("'schema' must be 1") }
        if o["unloaded"]?.boolValue == true {
            self.init(version: nil)
            return
        }
        guard let v = o["version"]?.stringValue, Names.versionNumber(v) != nil else {
            throw .invalidRequest("'version' must be a version name like \"v3\"")
        }
        var state = ServingState(version: v)
        if let c = o["canary"], !c.isNull {
            guard let cv = c["version"]?.stringValue, Names.versionNumber(cv) != nil else {
                throw .invalidRequest("'canary.version' must be a version name like \"v4\"")
            }
            guard let w = c["weight"]?.doubleValue, w == w.rounded(), (0...100).contains(w) else {
                throw .invalidRequest("'canary.weight' must be a whole number from 0 to 100")
            }
            state.canaryVersion = cv
            state.canaryWeight = Int(w)
        }
        self = state
    }
}

/// The folder of versions a server serves from: `STORE/MODEL/VERSION/model.json` and
/// `STORE/MODEL/serving.json`. Names starting with `.` are staging areas and are ignored.
struct Store: Sendable {
    let path: String

    func modelPath(_ model: String) -> String { path + "/" + model }
    func versionPath(_ model: String, _ version: String) -> String { path + "/" + model + "/" + version }
    func statePath(_ model: String) -> String { modelPath(model) + "/" + ServingState.fileName }

    /// Model folders, sorted; hidden folders and names that are not model names are skipped.
    func models() -> [String] {
        subfolders(path).filter { Names.isValidModelName($0) }.sorted()
    }

    /// Version folders of a model (`v1`, `v2`, ...) in version order.
    func versions(_ model: String) -> [String] {
        subfolders(modelPath(model)).filter { Names.versionNumber($0) != nil }
            .sorted { Names.versionNumber($0)! < Names.versionNumber($1)! }
    }

    func hasModel(_ model: String) -> Bool { isDirectory(modelPath(model)) }
    func hasVersion(_ model: String, _ version: String) -> Bool { isDirectory(versionPath(model, version)) }

    private func isDirectory(_ p: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &isDir) && isDir.boolValue
    }

    private func subfolders(_ p: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: p) else { return [] }
        return names.filter { !$0.hasPrefix(".") && isDirectory(p + "/" + $0) }
    }

    /// The model's state file, nil if it has none.
    func readState(_ model: String) throws(ServerError) -> ServingState? {
        let file = statePath(model)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw .storeIO(path: file, reason: "cannot read: \(error.localizedDescription)")
        }
        do {
            return try ServingState(json: JSONValue.parse(data))
        } catch let e as ServerError {
            throw .storeIO(path: file, reason: e.description)
        } catch {
            throw .storeIO(path: file, reason: "not valid JSON: \(error)")
        }
    }

    /// Writes the state file atomically: a temporary file beside it, fsync, rename, fsync of the folder;
    /// a crash leaves either the old file or the new one.
    func writeState(_ model: String, _ state: ServingState) throws(ServerError) {
        let folder = modelPath(model)
        let file = statePath(model)
        let temp = folder + "/.serving.json.tmp-\(getpid())"
        var bytes = Array(state.json.encoded(pretty: true))
        if bytes.last != 0x0A { bytes.append(0x0A) }
        func fail(_ what: String) -> ServerError {
            .storeIO(path: file, reason: "\(what) failed: \(String(cString: strerror(errno)))")
        }
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("open") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = fail("write")
                close(fd)
                unlink(temp)
                throw e
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let e = fail("fsync")
            close(fd)
            unlink(temp)
            throw e
        }
        close(fd)
        guard rename(temp, file) == 0 else {
            let e = fail("rename")
            unlink(temp)
            throw e
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    /// Loads a version through the model runtime: the artifact and format its `version.yaml` records
    /// (the reconciler places it beside the files), else a hand-placed `model.json` of any format.
    func loadScorer(_ model: String, _ version: String) throws(ServerError) -> any Scorer {
        guard hasVersion(model, version) else { throw .notInStore(model: model, version: version) }
        let dir = versionPath(model, version)
        let fm = FileManager.default
        do {
            let recordFile = dir + "/" + VersionRecord.fileName
            guard fm.fileExists(atPath: recordFile) else {
                guard fm.fileExists(atPath: dir + "/model.json") else {
                    throw ServerError.loadFailed(model: model, version: version, reason: "cannot read '\(dir)/model.json'")
                }
                return try ModelRuntime.load(contentsOf: URL(fileURLWithPath: dir + "/model.json"))
            }
            let text = try String(contentsOfFile: recordFile, encoding: .utf8)
            let record = try VersionRecord.parse(text, file: "\(model)/\(version)/\(VersionRecord.fileName)")
            return try ModelRuntime.load(version: record, folder: "\(model)/\(version)") { path in
                let file = dir + "/" + path
                return fm.fileExists(atPath: file) ? try Data(contentsOf: URL(fileURLWithPath: file)) : nil
            }.scorer
        } catch let error as ServerError {
            throw error
        } catch {
            throw .loadFailed(model: model, version: version, reason: "\(error)")
        }
    }
}
