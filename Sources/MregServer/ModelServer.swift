import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Everything `mreg serve` is started with.
public struct ServerConfiguration: Sendable {
    /// The store folder: `STORE/MODEL/VERSION/model.json`, `STORE/MODEL/serving.json`.
    public var store: String
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// File holding the bearer token of the repository endpoints.
    public var adminTokenFile: String?
    public var capture: CaptureConfiguration?
    /// Largest request body accepted; larger ones get 413.
    public var maxBody: Int
    /// Most connections open at once; further ones wait in the listen backlog.
    public var maxConnections: Int
    /// Reported by `GET /v2`.
    public var serverVersion: String

    public init(store: String, host: String = "127.0.0.1", port: Int = 8080, adminTokenFile: String? = nil,
                capture: CaptureConfiguration? = nil, maxBody: Int = 8 << 20, maxConnections: Int = 1024,
                serverVersion: String = "0") {
        self.store = store
        self.host = host
        self.port = port
        self.adminTokenFile = adminTokenFile
        self.capture = capture
        self.maxBody = maxBody
        self.maxConnections = maxConnections
        self.serverVersion = serverVersion
    }

    /// Whether the host is a loopback address, where the repository endpoints may run without a token.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// The model server: Open Inference Protocol (KServe V2) REST over Hummingbird.
public final class ModelServer: Sendable {
    public let configuration: ServerConfiguration
    let adminToken: String?
    let router = TableRouter()
    let metrics = ServerMetrics()
    let manager: ModelManager
    let capture: CaptureWriter?

    /// Checks the configuration and reads the token file; nothing is loaded or bound yet.
    public init(configuration: ServerConfiguration) throws(ServerError) {
        self.configuration = configuration
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.store, isDirectory: &isDir), isDir.boolValue else {
            throw .invalidConfiguration("store '\(configuration.store)' is not a folder")
        }
        guard (0...65535).contains(configuration.port) else {
            throw .invalidConfiguration("port \(configuration.port) is out of range (0-65535)")
        }
        guard configuration.maxBody > 0 else { throw .invalidConfiguration("max body must be positive") }
        if let file = configuration.adminTokenFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw .invalidConfiguration("cannot read admin token file '\(file)'")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.utf8.count >= 16 else {
                throw .invalidConfiguration("admin token file '\(file)' must hold a token of at least 16 characters")
            }
            adminToken = token
        } else {
            guard configuration.isLoopback else {
                throw .invalidConfiguration(
                    "refusing to serve the repository endpoints on '\(configuration.host)' without --admin-token-file")
            }
            adminToken = nil
        }
        if let c = configuration.capture {
            guard (0...100).contains(c.percent) else {
                throw .invalidConfiguration("capture percent \(c.percent) is out of range (0-100)")
            }
            guard c.maxFileBytes > 0, c.queueCapacity > 0 else {
                throw .invalidConfiguration("capture file size and queue size must be positive")
            }
        }
        manager = ModelManager(store: Store(path: configuration.store), router: router, metrics: metrics)
        let metrics = self.metrics
        capture = try configuration.capture.map { c throws(ServerError) in try CaptureWriter(configuration: c, metrics: metrics) }
    }

    /// Loads the models the store says to serve, listens, and serves until SIGTERM or SIGINT; then stops
    /// accepting, lets requests in flight finish, flushes capture and returns.
    ///
    /// - Parameters:
    ///   - log: receives one line per start-up problem (a model that could not be loaded).
    ///   - onListening: receives the bound address (`http://127.0.0.1:8080`) once the socket listens.
    public func run(log: @escaping @Sendable (String) -> Void, onListening: @escaping @Sendable (String) -> Void) async throws {
        manager.loadAtStart(log: log)
        capture?.start()
        // Hummingbird tags every request's logger with an id; a no-op handler makes that free.
        let logger = Logger(label: "mreg.serve", factory: { _ in SwiftLogNoOpLogHandler() })
        let host = configuration.host
        let app = Application(
            responder: Responder(server: self),
            server: .http1(configuration: .init(additionalChannelHandlers: [ExpectContinueHandler()], idleTimeout: .seconds(60))),
            configuration: .init(
                address: .hostname(host, port: configuration.port),
                serverName: nil,
                backlog: 1024,
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            },
            logger: logger
        )
        defer { capture?.finish() }
        try await app.runService()
    }
}
