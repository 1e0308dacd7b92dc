import Foundation
import Hummingbird
import Logging
import MregReconciler
import NIOCore
import Synchronization

/// The site behind a mutex: one request at a time reads the registry (libgit2 handles are not
/// shared between threads), each render a few milliseconds.
public final class SharedSite: Sendable {
    let site: Mutex<UISite>

    public init(_ site: sending UISite) {
        self.site = Mutex(site)
    }

    public func respond(path: String, query: String?, wantsJSON: Bool) -> UIResponse {
        site.withLock { $0.respond(path: path, query: query, wantsJSON: wantsJSON) }
    }

    func setHosts(_ reports: [HostReport]) {
        site.withLock { $0.hosts = (Date(), reports) }
    }
}

/// `mreg ui`: serves the site over HTTP until SIGTERM or SIGINT, refreshing the mirror and the host
/// statuses in the background.
public struct UIServer: Sendable {
    public let site: SharedSite
    public let host: String
    public let port: Int
    public var mirror: UIMirror?
    public var hosts: [String]
    /// Seconds between mirror fetches and host polls.
    public var refreshSeconds: Double

    public init(site: SharedSite, host: String, port: Int, mirror: UIMirror? = nil, hosts: [String] = [], refreshSeconds: Double = 30) {
        self.site = site
        self.host = host
        self.port = port
        self.mirror = mirror
        self.hosts = hosts
        self.refreshSeconds = refreshSeconds
    }

    /// True for 127.0.0.0/8, ::1 and localhost: the hosts served without `--allow-remote`.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public func run(onListening: @escaping @Sendable (String) -> Void, onRefreshError: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "mreg.ui")
        logger.logLevel = .critical
        let host = self.host
        let app = Application(
            responder: UIResponder(site: site),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(channel.localAddress?.port ?? 0)")
            },
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            if mirror != nil || !hosts.isEmpty {
                group.addTask { await refreshLoop(onError: onRefreshError) }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Polls the hosts and fetches main when it moved, every `refreshSeconds`, until cancelled.
    func refreshLoop(onError: @escaping @Sendable (String) -> Void) async {
        while !_Concurrency.Task.isCancelled {
            if !hosts.isEmpty { site.setHosts(await FleetStatus.fetch(hosts, timeout: 1)) }
            if let mirror {
                do { try mirror.refresh() } catch { onError("refreshing '\(mirror.url)' failed: \(error)") }
            }
            try? await _Concurrency.Task.sleep(nanoseconds: UInt64(max(1, refreshSeconds) * 1e9))
        }
    }
}

struct UIContext: InitializableFromSource {
    init(source: ApplicationRequestContextSource) {}
}

struct UIResponder: HTTPResponder {
    typealias Context = UIContext
    let site: SharedSite

    /// Pages are read-only and self-contained: no script may run, nothing may be loaded from elsewhere.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    func respond(to request: Request, context: UIContext) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed, headers: [.contentType: "application/json", .allow: "GET, HEAD"],
                            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"read-only: only GET and HEAD\"}\n")))
        }
        let wantsJSON = request.headers[.accept]?.contains("application/json") ?? false
        let answer = site.respond(path: request.uri.path, query: request.uri.query, wantsJSON: wantsJSON)
        var headers: HTTPFields = [.contentType: answer.contentType, .cacheControl: "no-cache"]
        headers[.contentSecurityPolicy] = UIResponder.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        if let location = answer.location { headers[.location] = location }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }
}
