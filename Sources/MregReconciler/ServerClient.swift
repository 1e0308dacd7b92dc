import Foundation
import MregCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a model serves: a stable version and optionally a canary with its weight.
public struct ServingTarget: Sendable, Equatable, CustomStringConvertible {
    public var version: String
    public var canary: Canary?

    public init(version: String, canary: Canary? = nil) {
        self.version = version
        self.canary = canary
    }

    /// The versions this target needs loaded.
    public var versions: [String] { [version] + (canary.map { [$0.version] } ?? []) }

    /// `v3` or `v3 (+v4 10%)`.
    public var description: String { version + (canary.map { " (+\($0.version) \($0.weight)%)" } ?? "") }

    var json: JSONValue {
        var o: [String: JSONValue] = ["version": .string(version)]
        if let c = canary { o["canary"] = ["version": .string(c.version), "weight": .number(Double(c.weight))] }
        return .object(o)
    }
}

/// A call to the model server that did not do what was asked.
public enum ServerCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// No answer: the server is down, or the connection broke. Worth retrying.
    case unreachable(String)
    /// The server answered with an error status and its `{"error": ...}` message.
    case refused(status: Int, message: String)

    public var description: String {
        switch self {
        case .unreachable(let why): return "model server unreachable: \(why)"
        case .refused(let status, let message): return "model server answered \(status): \(message)"
        }
    }
}

/// The model server's repository and inference API (Open Inference Protocol), over URLSession.
public final class ServerClient: Sendable {
    public let baseURL: String
    let token: String?
    let session: URLSession
    let timeout: TimeInterval

    public init(baseURL: String, token: String?, timeout: TimeInterval = 10) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.token = token
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 3
        configuration.connectionProxyDictionary = [:]
        session = URLSession(configuration: configuration)
    }

    /// Sends one request; returns the status and the parsed JSON body (nil when empty).
    func call(_ method: String, _ path: String, body: JSONValue? = nil, admin: Bool = false,
              headers: [String: String] = [:]) async throws(ServerCallError) -> (Int, JSONValue?) {
        guard let url = URL(string: baseURL + path) else { throw .unreachable("invalid URL '\(baseURL + path)'") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = body.encoded()
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if admin, let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.settledData(for: request)
        } catch {
            throw .unreachable(networkErrorText(error, timeout: timeout))
        }
        guard let http = response as? HTTPURLResponse else { throw .unreachable("not an HTTP response") }
        var document = data.isEmpty ? nil : try? JSONValue.parse(data)
        if document == nil, !(200..<300).contains(http.statusCode),
           let last = String(decoding: data.suffix(65_536), as: UTF8.self).split(whereSeparator: \.isNewline).last {
            // An engine that answers an error as text (MLServer's traceback): its last line says why.
            document = ["error": .string(String(last.trimmingCharacters(in: .whitespaces).prefix(300)))]
        }
        return (http.statusCode, document)
    }

    /// Throws `refused` unless the status is 2xx.
    func expectOK(_ result: (Int, JSONValue?)) throws(ServerCallError) -> JSONValue? {
        let (status, body) = result
        guard (200..<300).contains(status) else {
            throw .refused(status: status, message: body?["error"]?.stringValue ?? "no error message")
        }
        return body
    }

    /// What the server serves now, by model (`POST /v2/repository/index`).
    public func serving() async throws(ServerCallError) -> [String: ServingTarget] {
        let body = try expectOK(try await call("POST", "/v2/repository/index", body: [:], admin: true))
        var stable = [String: String]()
        var canaries = [String: Canary]()
        for row in body?.arrayValue ?? [] {
            guard let name = row["name"]?.stringValue, let version = row["version"]?.stringValue,
                  row["state"]?.stringValue == "READY" else { continue }
            if row["role"]?.stringValue == "canary" {
                canaries[name] = Canary(version: version, weight: row["canary_weight"]?.intValue ?? 0)
            } else {
                stable[name] = version
            }
        }
        var out = [String: ServingTarget]()
        for (name, version) in stable { out[name] = ServingTarget(version: version, canary: canaries[name]) }
        return out
    }

    /// Loads (and warms) the versions of `target` and makes it the model's serving state, atomically;
    /// versions in `reload` are read again from the store although loaded (their files changed).
    public func load(_ model: String, _ target: ServingTarget, reload: [String] = []) async throws(ServerCallError) {
        var parameters: [String: JSONValue] = ["version": .string(target.version)]
        if let c = target.canary {
            parameters["canary_version"] = .string(c.version)
            parameters["canary_weight"] = .number(Double(c.weight))
        }
        if !reload.isEmpty { parameters["reload"] = .array(reload.sorted().map(JSONValue.string)) }
        _ = try expectOK(try await call("POST", "/v2/repository/models/\(model)/load", body: ["parameters": .object(parameters)], admin: true))
    }

    /// Stops serving a model.
    public func unload(_ model: String) async throws(ServerCallError) {
        _ = try expectOK(try await call("POST", "/v2/repository/models/\(model)/unload", admin: true))
    }

    /// True when the server says the version is ready.
    public func isReady(_ model: String, _ version: String) async throws(ServerCallError) -> Bool {
        let (status, body) = try await call("GET", "/v2/models/\(model)/versions/\(version)/ready")
        return status == 200 && body?["ready"]?.boolValue == true
    }

    /// True when the server as a whole is ready.
    public func isServerReady() async -> Bool {
        guard let (status, _) = try? await call("GET", "/v2/health/ready") else { return false }
        return status == 200
    }

    /// Sends one inference built from the version's metadata and checks that it answers with outputs.
    public func smokeTest(_ model: String, _ version: String) async throws(ServerCallError) {
        let metadata = try expectOK(try await call("GET", "/v2/models/\(model)/versions/\(version)"))
        let inputs = metadata?["inputs"]?.arrayValue ?? []
        guard !inputs.isEmpty else { throw .refused(status: 200, message: "metadata of \(model)@\(version) lists no inputs") }
        var tensors = [JSONValue]()
        for input in inputs {
            guard let name = input["name"]?.stringValue else { continue }
            let datatype = input["datatype"]?.stringValue ?? "FP64"
            let value: JSONValue = datatype == "BYTES" ? .string("") : .number(0)
            tensors.append(["name": .string(name), "shape": [1], "datatype": .string(datatype), "data": .array([value])])
        }
        // Marked, so the server never captures it as production traffic.
        let answer = try expectOK(try await call(
            "POST", "/v2/models/\(model)/versions/\(version)/infer", body: ["inputs": .array(tensors)],
            headers: [ServingProtocol.smokeTestHeader: "1"]))
        guard let outputs = answer?["outputs"]?.arrayValue, !outputs.isEmpty else {
            throw .refused(status: 200, message: "inference on \(model)@\(version) returned no outputs")
        }
    }
}
