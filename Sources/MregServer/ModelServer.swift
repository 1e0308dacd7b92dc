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
    /// Longest a request head may take to arrive, from the accept or from its first byte.
    public var headerTimeout: Duration
    /// Longest a request body may take to arrive after its head.
    public var bodyTimeout: Duration
    /// Reported by `GET /v2`.
    public var serverVersion: String

    public init(store: String, host: String = "127.0.0.1", port: Int = 8080, adminTokenFile: String? = nil,
                capture: CaptureConfiguration? = nil, maxBody: Int = 8 << 20, maxConnections: Int = 1024,
                headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60),
                serverVersion: String = "0") {
        self.store = store
        self.host = host
        self.port = port
        self.adminTokenFile = adminTokenFile
        self.capture = capture
        self.maxBody = maxBody
        self.maxConnections = maxConnections
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.serverVersion = serverVersion
    }

    /// Whether the host is a loopback address, where the repository endpoints may run without a token.
    ///
    /// Decided on what the name resolves to, never on how it is spelled (`127.evil.example` is a
    /// name like any other): every address it resolves to must be loopback, and a name that does
    /// not resolve is not loopback.
    public var isLoopback: Bool {
        let addresses = ServerConfiguration.resolve(host)
        return !addresses.isEmpty && addresses.allSatisfy(\.isLoopback)
    }

    /// The addresses `host` resolves to (numeric hosts resolve to themselves); empty if it does not.
    static func resolve(_ host: String) -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var out = [ResolvedAddress]()
        var entry = list
        while let e = entry {
            if let sa = e.pointee.ai_addr {
                switch Int32(sa.pointee.sa_family) {
                case AF_INET:
                    let a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                    out.append(.v4(UInt32(bigEndian: a)))
                case AF_INET6:
                    let a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    out.append(.v6(withUnsafeBytes(of: a) { Array($0) }))
                default:
                    out.append(.other)
                }
            }
            entry = e.pointee.ai_next
        }
        return out
    }
}

/// One address a host name resolved to.
enum ResolvedAddress: Equatable {
    /// An IPv4 address in host byte order.
    case v4(UInt32)
    /// The 16 bytes of an IPv6 address.
    case v6([UInt8])
    case other

    /// 127.0.0.0/8, `::1`, or an IPv4-mapped `::ffff:127.x.y.z`.
    var isLoopback: Bool {
        switch self {
        case .v4(let a): return a >> 24 == 127
        case .v6(let b):
            guard b.count == 16 else { return false }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
            return b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127
        case .other: return false
        }
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
    /// Canary splits and capture sampling.
    let draws = Draws()
    /// The protocol extensions `GET /v2` lists.
    static let extensions = ["model_repository", "metrics", "data_capture", "binary_tensor_data", "model_configuration", "statistics"]

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
        guard configuration.maxConnections > 0 else { throw .invalidConfiguration("max connections must be positive") }
        for (name, t) in [("header", configuration.headerTimeout), ("body", configuration.bodyTimeout)]
        where t <= .zero || t > .seconds(86_400) {
            throw .invalidConfiguration("\(name) timeout must be more than 0 and at most 86400 seconds")
        }
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
    ///   - log: receives one line per start-up problem (a model that could not be loaded), and one
    ///     when capture starts dropping records.
    ///   - onListening: receives the bound address (`http://127.0.0.1:8080`) once the socket listens.
    public func run(log: @escaping @Sendable (String) -> Void, onListening: @escaping @Sendable (String) -> Void) async throws {
        manager.loadAtStart(log: log)
        capture?.start(log: log)
        // Hummingbird tags every request's logger with an id; a no-op handler makes that free.
        let logger = Logger(label: "mreg.serve", factory: { _ in SwiftLogNoOpLogHandler() })
        let host = configuration.host
        let maxBody = configuration.maxBody
        let limits = ConnectionGuard.Limits(headerTimeout: .nanoseconds(configuration.headerTimeout.nanoseconds),
                                            bodyTimeout: .nanoseconds(configuration.bodyTimeout.nanoseconds))
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard.Parts(), ExpectContinueHandler(maxBody: maxBody)],
            idleTimeout: .seconds(60))
        let app = Application(
            responder: Responder(server: self),
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: http1), limits: limits)
            },
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

extension Duration {
    /// The whole duration in nanoseconds, saturating (configuration values are bounded anyway).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ attoseconds / 1_000_000_000
    }
}
