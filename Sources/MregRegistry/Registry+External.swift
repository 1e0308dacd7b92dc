import Foundation
import MregCore
import MregML

/// A user's own training program, run by `mreg train MODEL -- COMMAND ARGS...`.
public struct ExternalTrainer {
    public var model: String
    public var command: [String]
    public var data: String?
    public var params: [String: String] = [:]
    public var seed: UInt64 = 42
    public var message: String?
    public var commandLine: String?
    /// Where the program's output goes while it runs (besides the version's train.log); nil: nowhere.
    public var echo: FileHandle?

    public init(model: String, command: [String], data: String? = nil) {
        self.model = model
        self.command = command
        self.data = data
    }
}

extension Registry {
    /// Runs an external trainer with MREG_DATA, MREG_OUTPUT (an empty folder), MREG_PARAMS (JSON)
    /// and MREG_SEED, then registers whatever it wrote to MREG_OUTPUT plus its log as `train.log`.
    /// A non-zero exit registers nothing.
    public func trainExternal(_ trainer: ExternalTrainer) throws -> Registration {
        _ = try Names.model(trainer.model)
        guard let program = trainer.command.first else {
            throw RegistryError.invalidInput("no trainer command after '--'")
        }
        _ = try head()
        var fingerprint: DataFingerprint?
        var dataPath = ""
        if let data = trainer.data {
            let (bytes, table) = try Registry.readTable(data)
            dataPath = URL(fileURLWithPath: data).standardizedFileURL.path
            fingerprint = DataFingerprint(role: "train", path: data, sha256: SHA256.hex(bytes), rows: table.rowCount, columns: table.columnNames)
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("mreg-train-\(UUID().uuidString)").path
        let output = work + "/output"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        var params = [String: JSONValue]()
        for (k, v) in trainer.params {
            if let d = Double(v), d.isFinite { params[k] = .number(d) } else if v == "true" || v == "false" { params[k] = .bool(v == "true") } else { params[k] = .string(v) }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = trainer.command
        var env = environment
        env["MREG_DATA"] = dataPath
        env["MREG_OUTPUT"] = output
        env["MREG_PARAMS"] = JSONValue.object(params).encodedString()
        env["MREG_SEED"] = String(trainer.seed)
        env["MREG_MODEL"] = trainer.model
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let log = LogBuffer(echo: trainer.echo)
        pipe.fileHandleForReading.readabilityHandler = { handle in log.append(handle.availableData) }
        do {
            try process.run()
        } catch {
            throw RegistryError.invalidInput("cannot run trainer '\(program)': \(error.localizedDescription)")
        }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        log.append(pipe.fileHandleForReading.readDataToEndOfFile())
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            let last = String(decoding: log.data.suffix(300), as: UTF8.self).split(separator: "\n").last.map { ": \($0)" } ?? ""
            throw RegistryError.invalidInput("trainer '\(program)' \(how); nothing registered\(last)")
        }
        var content = try VersionContent.read(folder: output)
        guard content.files["train.log"] == nil else {
            throw RegistryError.invalidInput("the trainer wrote train.log into MREG_OUTPUT; that name is kept for its log")
        }
        content.files["train.log"] = log.data
        // The same treatment as `mreg register`: the artifact recognised and loaded, the task from it,
        // and a baseline of the training data when the trainer wrote none.
        content.trainingData = trainer.data
        content.baselineIfPossible = true
        return try register(model: trainer.model, content: content, message: trainer.message) { record in
            record.source = VersionSource(kind: "external", command: trainer.commandLine ?? trainer.command.joined(separator: " "),
                                          message: trainer.message, trainer: program)
            record.seed = trainer.seed
            record.params = .object(params)
            if let fingerprint { record.data = [fingerprint] }
        }
    }
}

/// Collects a child's output (and echoes it) from the pipe's reader thread.
final class LogBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()
    private let echo: FileHandle?
    init(echo: FileHandle?) { self.echo = echo }
    func append(_ d: Data) {
        guard !d.isEmpty else { return }
        lock.lock()
        buffer.append(d)
        lock.unlock()
        echo?.write(d)
    }
    var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}
