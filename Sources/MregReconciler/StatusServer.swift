import Foundation
import Hummingbird
import Logging
import MregCore
import NIOCore

/// `--listen`: `GET /status` (JSON), `/metrics` (Prometheus) and `/healthz`, served from the board.
public struct StatusServer: Sendable {
    public let board: StatusBoard
    public let host: String
    public let port: Int

    public init(board: StatusBoard, host: String, port: Int) {
        self.board = board
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:9090` (or `[::1]:9090`).
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    /// Serves until SIGTERM or SIGINT; `onListening` gets `http://HOST:PORT` once bound.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "mreg.reconcile.status")
        logger.logLevel = .critical
        let host = self.host
        let app = Application(
            responder: StatusResponder(board: board),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(channel.localAddress?.port ?? 0)")
            },
            logger: logger)
        try await app.runService()
    }
}

struct StatusContext: InitializableFromSource {
    init(source: ApplicationRequestContextSource) {}
}

struct StatusResponder: HTTPResponder {
    typealias Context = StatusContext
    let board: StatusBoard

    func respond(to request: Request, context: StatusContext) async throws -> Response {
        let path = request.uri.path
        guard request.method == .get || request.method == .head else {
            return text(.methodNotAllowed, "{\"error\":\"only GET\"}\n", json: true)
        }
        let status = board.current
        switch path {
        case "/status":
            var data = status.json.encoded(pretty: true)
            data.append(0x0A)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        case "/metrics":
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: status.metrics)))
        case "/healthz":
            // Alive when a pass finished recently: within a few intervals (or the longest backoff).
            let last = status.passes.last.map { $0.started.addingTimeInterval($0.seconds) }
            let limit = max(status.intervalSeconds * 4, 330) + 30
            let fresh = last.map { Date().timeIntervalSince($0) < limit } ?? true
            let body: JSONValue = ["ok": .bool(fresh), "converged": .bool(status.converged)]
            return text(fresh ? .ok : .serviceUnavailable, body.encodedString() + "\n", json: true)
        default:
            return text(.notFound, StatusResponder.notFoundBody(path: path), json: true)
        }
    }

    /// The 404 body, encoded by the JSON encoder: the path is the client's and may hold quotes,
    /// backslashes or control characters.
    static func notFoundBody(path: String) -> String {
        let error: JSONValue = ["error": .string("no endpoint '\(path)' (try /status, /metrics, /healthz)")]
        return error.encodedString() + "\n"
    }

    private func text(_ status: HTTPResponse.Status, _ body: String, json: Bool) -> Response {
        Response(status: status, headers: [.contentType: json ? "application/json" : "text/plain"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
