import Foundation
import Hummingbird
import NIOCore

/// Everything the model server refuses or fails at, each mapped to one HTTP status.
///
/// Messages are written for a terminal and for a JSON `error` field alike: lowercase, one line, no
/// trailing period, the subject quoted.
public enum ServerError: Error, Equatable, CustomStringConvertible, HTTPResponseError {
    /// The request body is not valid JSON.
    case invalidJSON(String)
    /// The request body is empty where a document is needed.
    case emptyBody
    /// The JSON is well formed but does not fit the protocol or the model; the text says what.
    case invalidRequest(String)
    /// The request body is larger than `--max-body`.
    case bodyTooLarge(limit: Int)
    /// No endpoint at this path.
    case noEndpoint(path: String)
    /// The path exists but not for this method.
    case methodNotAllowed(method: String, path: String, allowed: [String])
    /// The model is not served by this host.
    case unknownModel(String)
    /// The model is served, but not this version.
    case unknownVersion(model: String, version: String)
    /// The model or version is not in the store, so it cannot be loaded.
    case notInStore(model: String, version: String?)
    /// The model should be served but is not loaded (its load failed).
    case notReady(model: String, reason: String)
    /// A repository call without the admin bearer token, or with the wrong one.
    case unauthorized
    /// A version could not be loaded; the old one (if any) keeps serving.
    case loadFailed(model: String, version: String, reason: String)
    /// A file of the store could not be read or written.
    case storeIO(path: String, reason: String)
    /// A server option is out of range or inconsistent; the text says which.
    case invalidConfiguration(String)
    /// The bytes are not an HTTP/1.1 request the server can parse; the text says what is wrong.
    case malformedHTTP(String)
    /// The request head did not arrive within `--header-timeout` (in seconds).
    case headerTimeout(seconds: Double)

    public var description: String {
        switch self {
        case .invalidJSON(let reason): return "request body is not valid JSON: \(reason)"
        case .emptyBody: return "request body is empty"
        case .invalidRequest(let reason): return reason
        case .bodyTooLarge(let limit): return "request body is larger than \(limit) bytes"
        case .noEndpoint(let path): return "no endpoint '\(ServerError.clip(path))'"
        case .methodNotAllowed(let method, let path, let allowed):
            return "method '\(ServerError.clip(method))' is not allowed on '\(ServerError.clip(path))' (allowed: \(allowed.joined(separator: ", ")))"
        case .unknownModel(let name): return "model '\(ServerError.clip(name))' is not served here"
        case .unknownVersion(let model, let version):
            return "model '\(ServerError.clip(model))' has no loaded version '\(ServerError.clip(version))'"
        case .notInStore(let model, nil): return "model '\(ServerError.clip(model))' is not in the store"
        case .notInStore(let model, let version?):
            return "model '\(ServerError.clip(model))' has no version '\(ServerError.clip(version))' in the store"
        case .notReady(let model, let reason): return "model '\(model)' is not ready: \(reason)"
        case .unauthorized: return "missing or wrong bearer token (see --admin-token-file)"
        case .loadFailed(let model, let version, let reason):
            return "cannot load model '\(model)' version '\(version)': \(reason)"
        case .storeIO(let path, let reason): return "'\(path)': \(reason)"
        case .invalidConfiguration(let reason): return reason
        case .malformedHTTP(let reason): return "malformed HTTP request: \(reason)"
        case .headerTimeout(let seconds):
            return "request head did not arrive within \(seconds == seconds.rounded() ? String(Int64(seconds)) : String(seconds)) s"
        }
    }

    /// The HTTP status this error answers with.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalidJSON, .emptyBody, .invalidRequest, .malformedHTTP: return .badRequest
        case .headerTimeout: return .requestTimeout
        case .bodyTooLarge: return .contentTooLarge
        case .noEndpoint, .unknownModel, .unknownVersion, .notInStore: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .notReady: return .serviceUnavailable
        case .unauthorized: return .unauthorized
        case .loadFailed: return .unprocessableContent
        case .storeIO, .invalidConfiguration: return .internalServerError
        }
    }

    /// `{"error": "..."}` with the status, plus `Allow` or `WWW-Authenticate` where HTTP asks for them.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    /// The error as a response, without needing a request context.
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        switch self {
        case .methodNotAllowed(_, _, let allowed): headers[.allow] = allowed.joined(separator: ", ")
        case .unauthorized: headers[.wwwAuthenticate] = "Bearer"
        default: break
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The body of every error answer: `{"error":"..."}` and a newline.
    var body: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(64 + description.utf8.count)
        out.append(contentsOf: #"{"error":"#.utf8)
        JSONWriter.string(description, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// Values echoed from a request are shortened so a message stays on one line and small.
    static func clip(_ value: some StringProtocol) -> String {
        var text = String(value).replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        if text.count > 64 { text = String(text.prefix(61)) + "..." }
        return text
    }
}
