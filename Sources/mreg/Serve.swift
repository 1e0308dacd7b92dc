import ArgumentParser
import Foundation
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
            """)

    @Option(help: "The store folder: STORE/MODEL/VERSION/ with each version's files.")
    var store: String

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
        let config = ServerConfiguration(
            store: store, host: host, port: port, adminTokenFile: adminTokenFile,
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
