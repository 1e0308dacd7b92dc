import ArgumentParser
import Foundation
import MregCore
import MregServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models from a store over the Open Inference Protocol (KServe V2 REST).",
        discussion: """
            Serves STORE/MODEL/VERSION (the artifact its version.yaml names, else model.json) as the reconciler lays it out. STORE/MODEL/serving.json \
            says which version (and canary) each model serves; the repository endpoints \
            (POST /v2/repository/models/NAME/load and .../unload) change it with a hot swap.

            With --port 0 a free port is picked. The first line on stdout is always \
            'listening on http://HOST:PORT'. SIGTERM stops accepting, finishes the requests in flight \
            and exits 0. See docs/serving.md.

            Example:
              mreg serve --store /var/lib/mreg/store --port 8080
              mreg serve --store ./store --port 0 --capture ./capture --capture-percent 5
              mreg serve --model-dir /mnt/models --model-name fraud --host 0.0.0.0 --port 8080
            """)

    @Option(help: "The store folder: STORE/MODEL/VERSION/ with each version's files.")
    var store: String?

    @Option(help: "Serve the one version folder DIR (its version.yaml names the version), as KServe's storage initializer lays it out in /mnt/models; needs --model-name.")
    var modelDir: String?

    @Option(help: "With --model-dir: the name the model is served under.")
    var modelName: String?

    @Option(help: "Address to listen on; a non-loopback address needs --admin-token-file.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8080

    @Option(help: "File holding the bearer token required by the repository endpoints (load, unload, index).")
    var adminTokenFile: String?

    @Option(help: "Folder for captured requests (JSON Lines).")
    var capture: String?

    @Option(help: "Percent of inference requests to capture, 0-100.")
    var capturePercent: Double = 100

    @Option(help: "Size at which a capture file is closed and the next one started.")
    var captureFileBytes = 64 << 20

    @Option(help: "Free disk space below which capture records are dropped.")
    var captureMinFreeBytes: UInt64 = 256 << 20

    @Option(help: "Capture records waiting to be written before new ones are dropped.")
    var captureQueue = 10_000

    @Option(help: "Largest request body accepted, in bytes (larger: 413).")
    var maxBody = 8 << 20

    @Option(help: "Most connections open at once.")
    var maxConnections = 1024

    @Option(help: "Seconds a request head may take to arrive (from the accept, or from its first byte); slower clients get 408.")
    var headerTimeout: Double = 10

    @Option(help: "Seconds a request body may take to arrive after its head; slower clients are cut off.")
    var bodyTimeout: Double = 60

    func validate() throws {
        guard (store == nil) != (modelDir == nil) else { throw ValidationError("give exactly one of --store STORE or --model-dir DIR") }
        guard (modelDir == nil) == (modelName == nil) else { throw ValidationError("--model-dir and --model-name go together") }
        if let modelName, !Names.isValidModelName(modelName) {
            throw ValidationError("model name '\(modelName)' is not valid (1-64 of a-z 0-9 . _ -)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("port \(port) is out of range (0-65535)") }
        guard (0...100).contains(capturePercent) else {
            throw ValidationError("capture percent \(capturePercent) is out of range (0-100)")
        }
        guard maxBody > 0 else { throw ValidationError("--max-body must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        for (name, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout)]
        where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) must be more than 0 and at most 86400 seconds")
        }
    }

    func run() async throws {
        var storePath = store ?? ""
        var tokenFile = adminTokenFile
        if let modelDir, let modelName {
            do {
                (storePath, tokenFile) = try SingleModelStore.make(folder: modelDir, model: modelName, adminTokenFile: adminTokenFile)
            } catch {
                printError(error.description)
                throw ExitCode(2)
            }
        }
        let config = ServerConfiguration(
            store: storePath, host: host, port: port, adminTokenFile: tokenFile,
            capture: capture.map {
                CaptureConfiguration(directory: $0, percent: capturePercent, maxFileBytes: captureFileBytes,
                                     minFreeBytes: captureMinFreeBytes, queueCapacity: captureQueue)
            },
            maxBody: maxBody, maxConnections: maxConnections,
            headerTimeout: .milliseconds(Int64(headerTimeout * 1000)), bodyTimeout: .milliseconds(Int64(bodyTimeout * 1000)),
            serverVersion: Mreg.version)
        do {
            let server = try ModelServer(configuration: config)
            try await server.run(
                log: { line in FileHandle.standardError.write(Data("mreg: warning: \(line)\n".utf8)) },
                onListening: { address in
                    // Written directly (not through print's buffer) so a parent reading a pipe sees it at once.
                    FileHandle.standardOutput.write(Data("listening on \(address)\n".utf8))
                })
        } catch let error as ServerError {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

/// `serve --model-dir`: a store of one model whose one version is the given folder (linked, not
/// copied), so the server loads and checks it as it loads any version. Without a token file the
/// repository API gets a random token nobody knows: the served version cannot be changed.
enum SingleModelStore {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func make(folder: String, model: String, adminTokenFile: String?) throws(Failure) -> (store: String, tokenFile: String?) {
        let dir = URL(fileURLWithPath: folder).standardizedFileURL.path
        let versionFile = dir + "/" + VersionRecord.fileName
        guard let data = FileManager.default.contents(atPath: versionFile), data.count <= 1 << 20,
              let text = String(data: data, encoding: .utf8)
        else { throw Failure(description: "'\(folder)' has no readable \(VersionRecord.fileName) (a version folder of the artifact store has one)") }
        let version: String
        do { version = try VersionRecord.parse(text, file: versionFile).version } catch { throw Failure(description: error.description) }
        var template = Array((NSTemporaryDirectory() + "/mreg-serve-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "cannot make a temporary folder: \(String(cString: strerror(errno)))") }
        let store = String(cString: made)
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: store + "/" + model, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: store + "/" + model + "/" + version, withDestinationPath: dir)
        } catch {
            throw Failure(description: "cannot lay out '\(store)': \(error.localizedDescription)")
        }
        guard adminTokenFile == nil else { return (store, adminTokenFile) }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let token = store + "/.admin-token"
        guard fm.createFile(atPath: token, contents: Data(bytes.map { String(format: "%02x", $0) }.joined().utf8),
                            attributes: [.posixPermissions: 0o600]) else { throw Failure(description: "cannot write '\(token)'") }
        return (store, token)
    }
}
