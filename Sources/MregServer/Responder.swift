import Foundation
import HTTPTypes
import Hummingbird
import MregCore
import MregML
import NIOCore

/// The per-request context: nothing beyond what Hummingbird gives, so building it costs nothing.
struct ServeContext: InitializableFromSource {
    init(source: ApplicationRequestContextSource) {}
}

/// Routes every request by hand: the protocol's paths are few and fixed, so a switch over path
/// segments is both the fastest router and the one that answers 404 and 405 in the protocol's own
/// `{"error": "..."}` shape.
struct Responder: HTTPResponder {
    typealias Context = ServeContext
    let server: ModelServer
    let jsonHeaders: HTTPFields = [.contentType: "application/json"]
    static let binaryHeader = HTTPField.Name("Inference-Header-Content-Length")!
    static let smokeTestHeader = HTTPField.Name(ServingProtocol.smokeTestHeader)!

    func respond(to request: Request, context: ServeContext) async throws -> Response {
        let raw = request.head.path ?? "/"
        let path = raw.utf8.firstIndex(of: UInt8(ascii: "?")).map { raw[..<$0] } ?? raw[...]
        let parts = path.split(separator: "/", maxSplits: 8, omittingEmptySubsequences: false)
        let method = request.method
        // parts[0] is the empty string before the leading slash.
        guard parts.count >= 2, parts[0].isEmpty else { return other(.noEndpoint(path: String(path))) }

        if parts[1] == "v2" {
            if parts.count == 2 { return get(method, path) { self.serverMetadata() } }
            switch parts[2] {
            case "models" where parts.count >= 4:
                let model = parts[3]
                switch parts.count {
                // As in Triton: `/v2/models/stats` is the statistics of every model.
                case 4 where model == "stats": return get(method, path) { try self.statistics(nil, nil) }
                case 4: return get(method, path) { try self.modelMetadata(model, nil) }
                case 5 where parts[4] == "ready": return get(method, path) { try self.modelReady(model, nil) }
                case 5 where parts[4] == "config": return get(method, path) { try self.modelConfig(model, nil) }
                case 5 where parts[4] == "stats": return get(method, path) { try self.statistics(model, nil) }
                case 5 where parts[4] == "infer":
                    guard method == .post else { return other(.methodNotAllowed(method: method.rawValue, path: String(path), allowed: ["POST"])) }
                    return await infer(request, model: model, version: nil)
                case 6 where parts[4] == "versions":
                    return get(method, path) { try self.modelMetadata(model, parts[5]) }
                case 7 where parts[4] == "versions" && parts[6] == "ready":
                    return get(method, path) { try self.modelReady(model, parts[5]) }
                case 7 where parts[4] == "versions" && parts[6] == "config":
                    return get(method, path) { try self.modelConfig(model, parts[5]) }
                case 7 where parts[4] == "versions" && parts[6] == "stats":
                    return get(method, path) { try self.statistics(model, parts[5]) }
                case 7 where parts[4] == "versions" && parts[6] == "infer":
                    guard method == .post else { return other(.methodNotAllowed(method: method.rawValue, path: String(path), allowed: ["POST"])) }
                    return await infer(request, model: model, version: parts[5])
                default: break
                }
            case "health" where parts.count == 4:
                if parts[3] == "live" { return get(method, path) { self.json(["live": true]) } }
                if parts[3] == "ready" {
                    return get(method, path) {
                        let table = self.server.router.current()
                        guard table.isReady else {
                            let reasons = table.failures.keys.sorted().map { "\($0): \(table.failures[$0]!)" }
                            return self.json(["ready": false, "reasons": .array(reasons.map(JSONValue.string))], status: .serviceUnavailable)
                        }
                        return self.json(["ready": true])
                    }
                }
            case "repository" where parts.count >= 4:
                if parts.count == 4 && parts[3] == "index" {
                    return await admin(request, path) { body in
                        let readyOnly = body?["ready"]?.boolValue ?? false
                        return await self.server.manager.index(readyOnly: readyOnly)
                    }
                }
                if parts.count == 6 && parts[3] == "models" && (parts[5] == "load" || parts[5] == "unload") {
                    let model = String(parts[4])
                    let load = parts[5] == "load"
                    return await admin(request, path) { body throws(ServerError) in
                        load ? try await self.server.manager.load(model, parameters: body) : try await self.server.manager.unload(model)
                    }
                }
            default: break
            }
        } else if parts[1] == "metrics" && parts.count == 2 {
            return get(method, path) {
                let text = self.server.metrics.render(table: self.server.router.current(), captureQueueDepth: self.server.capture?.queueDepth)
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        return other(.noEndpoint(path: String(path)))
    }

    // MARK: Plain endpoints

    /// Answers a GET (or HEAD) endpoint, 405 for other methods.
    private func get(_ method: HTTPRequest.Method, _ path: Substring, _ body: () throws -> Response) -> Response {
        guard method == .get || method == .head else {
            return other(.methodNotAllowed(method: method.rawValue, path: String(path), allowed: ["GET"]))
        }
        do {
            let response = try body()
            server.metrics.other.add(VersionStats.statusSlot(Int(response.status.code)))
            return response
        } catch let error as ServerError {
            return other(error)
        } catch {
            return other(.invalidRequest("\(error)"))
        }
    }

    private func other(_ error: ServerError) -> Response {
        server.metrics.other.add(VersionStats.statusSlot(Int(error.status.code)))
        return error.response
    }

    private func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = Array(value.encoded())
        bytes.append(0x0A)
        return Response(status: status, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func bytes(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func serverMetadata() -> Response {
        json([
            "name": "mreg", "version": .string(server.configuration.serverVersion),
            "extensions": .array(ModelServer.extensions.map(JSONValue.string)),
        ])
    }

    /// The served version of a request: the named one, or stable/canary by weight.
    private func route(_ table: ServingTable, _ model: Substring, _ version: Substring?) throws(ServerError) -> (ModelEntry, LoadedVersion?) {
        try table.resolve(model, version)
    }

    /// `GET /v2/models/NAME[/versions/V]/config`: the model configuration extension.
    private func modelConfig(_ model: Substring, _ version: Substring?) throws(ServerError) -> Response {
        let (entry, v) = try route(server.router.current(), model, version)
        let versions = (v.map { [$0] } ?? entry.byNumber).map(\.version)
        return json(LoadedVersion.configDocument(name: entry.name, versions: versions, model: (v ?? entry.stable).model))
    }

    /// `GET /v2/models[/NAME[/versions/V]]/stats`: the statistics extension, for every served version
    /// of every model, of one model, or of one version.
    private func statistics(_ model: Substring?, _ version: Substring?) throws(ServerError) -> Response {
        let table = server.router.current()
        var served = [LoadedVersion]()
        if let model {
            let (entry, v) = try route(table, model, version)
            served = v.map { [$0] } ?? entry.byNumber
        } else {
            for name in table.models.keys.sorted() {
                served += table.models[name]!.byNumber
            }
        }
        return json(["model_stats": .array(served.map { $0.stats.statisticsDocument() })])
    }

    private func modelMetadata(_ model: Substring, _ version: Substring?) throws(ServerError) -> Response {
        let (entry, v) = try route(server.router.current(), model, version)
        return bytes(v?.metadata ?? entry.metadata)
    }

    private func modelReady(_ model: Substring, _ version: Substring?) throws(ServerError) -> Response {
        let (entry, v) = try route(server.router.current(), model, version)
        return bytes(v?.readyBody ?? entry.readyBody)
    }

    // MARK: Repository

    /// Runs a repository call: POST only, bearer token checked, body parsed as JSON (empty is allowed).
    private func admin(_ request: Request, _ path: Substring,
                       _ body: @Sendable (JSONValue?) async throws(ServerError) -> JSONValue) async -> Response {
        guard request.method == .post else {
            return other(.methodNotAllowed(method: request.method.rawValue, path: String(path), allowed: ["POST"]))
        }
        if let token = server.adminToken {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                  constantTimeEqual(header.dropFirst(7).utf8, token.utf8) else {
                return other(.unauthorized)
            }
        }
        do {
            let buffer: ByteBuffer
            let limit = Responder.bodyLimit(path: path, maxBody: server.configuration.maxBody)
            // Refused before reading: the client may be waiting for a `100 Continue` it will not get.
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
                throw ServerError.bodyTooLarge(limit: limit)
            }
            do {
                buffer = try await request.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw ServerError.bodyTooLarge(limit: limit)
            } catch {
                throw ServerError.invalidRequest("cannot read the request body")
            }
            var document: JSONValue?
            if buffer.readableBytes > 0 {
                do {
                    document = try JSONValue.parse(Data(buffer.readableBytesView), maxDepth: 32)
                } catch {
                    throw ServerError.invalidJSON(error.description)
                }
            }
            let result = try await body(document)
            server.metrics.other.add(0)
            return json(result)
        } catch let error as ServerError {
            return other(error)
        } catch {
            return other(.invalidRequest("\(error)"))
        }
    }

    /// The largest body an endpoint reads: `--max-body` for inference, at most 1 MiB for the
    /// repository calls (their bodies are a few parameters).
    static func bodyLimit(path: some StringProtocol, maxBody: Int) -> Int {
        path.hasPrefix("/v2/repository/") ? min(maxBody, 1 << 20) : maxBody
    }

    // MARK: Inference

    private func infer(_ request: Request, model: Substring, version: Substring?) async -> Response {
        let start = monotonicNanos()
        let table = server.router.current()
        let served: LoadedVersion
        do {
            let (entry, named) = try route(table, model, version)
            served = named ?? entry.pick(server.draws)
        } catch {
            server.metrics.unrouted.record(status: Int(error.status.code), nanoseconds: monotonicNanos() &- start)
            return error.response
        }
        do throws(ServerError) {
            let limit = server.configuration.maxBody
            var smokeTest = false
            var headerLength: String?
            // One pass over the headers (the subscript joins repeated fields into a new string).
            for field in request.headers {
                if field.name == .contentLength {
                    if let n = Int(field.value), n > limit { throw ServerError.bodyTooLarge(limit: limit) }
                } else if field.name == Responder.binaryHeader {
                    guard headerLength == nil else { throw ServerError.invalidRequest("header 'Inference-Header-Content-Length' is given twice") }
                    headerLength = field.value
                } else if field.name == Responder.smokeTestHeader {
                    smokeTest = true
                }
            }
            let buffer = try await Responder.readBody(request.body, limit: limit)
            var timing = InferTiming()
            let response = try respondInfer(buffer, served, headerLength: headerLength, capture: !smokeTest, timing: &timing)
            served.stats.recordSuccess(nanoseconds: monotonicNanos() &- start, timing: timing)
            return response
        } catch {
            served.stats.record(status: Int(error.status.code), nanoseconds: monotonicNanos() &- start)
            return error.response
        }
    }

    /// The whole body, up to `limit` bytes. A body that arrives in one piece (the usual case for a
    /// small request) is used as it is, without the copy `collect(upTo:)` makes.
    static func readBody(_ body: RequestBody, limit: Int) async throws(ServerError) -> ByteBuffer {
        do {
            var iterator = body.makeAsyncIterator()
            guard var first = try await iterator.next() else { return ByteBuffer() }
            guard first.readableBytes <= limit else { throw ServerError.bodyTooLarge(limit: limit) }
            while let more = try await iterator.next() {
                guard first.readableBytes + more.readableBytes <= limit else { throw ServerError.bodyTooLarge(limit: limit) }
                var piece = more
                first.writeBuffer(&piece)
            }
            return first
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError.invalidRequest("cannot read the request body")
        }
    }

    /// Parse, check, predict, encode: synchronous, with the version fixed for the whole request.
    ///
    /// With `headerLength` (the `Inference-Header-Content-Length` header) the body is that many
    /// bytes of JSON followed by binary tensor data, and binary outputs may be asked for.
    private func respondInfer(_ buffer: ByteBuffer, _ served: LoadedVersion, headerLength: String?, capture captureIt: Bool,
                              timing: inout InferTiming) throws(ServerError) -> Response {
        let t0 = monotonicNanos()
        let parsed: Result<InferRequest, ServerError> = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(ServerError) -> InferRequest in
                guard let headerLength else {
                    var request = try InferRequest.parse(raw, features: served.featureNames)
                    try request.attachBinary(nil)
                    return request
                }
                let n = try InferRequest.binaryHeaderLength(headerLength, bodyCount: raw.count)
                var request = try InferRequest.parse(UnsafeRawBufferPointer(rebasing: raw[0..<n]), features: served.featureNames)
                try request.attachBinary(UnsafeRawBufferPointer(rebasing: raw[n...]))
                return request
            }
        }
        let request = try parsed.get()
        let (checked, predictions) = try server.predict(request, on: served, capture: captureIt, since: t0, timing: &timing)
        let t2 = monotonicNanos()
        var out = [UInt8]()
        out.reserveCapacity(160 + predictions.rowCount * (24 + 24 * max(1, predictions.classCount)))
        var tail = [UInt8]()
        let binary = served.binaryMask(request, outputs: checked.outputs)
        served.encodeResponse(id: request.id, predictions: predictions, outputs: checked.outputs, binary: binary, into: &out, tail: &tail)
        var headers = jsonHeaders
        if binary != 0 {
            headers = [.contentType: "application/octet-stream", Responder.binaryHeader: String(out.count)]
            out.append(contentsOf: tail)
        }
        timing.output = monotonicNanos() &- t2
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
    }
}

/// Compares without an early exit, so the time taken does not reveal how much of a token matched.
///
/// Every byte of the longer value is looked at and the lengths are compared in full, so a token
/// followed by extra characters never compares equal (a length difference of 256 did, once, when
/// only its low byte was kept).
func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    let x = Array(a), y = Array(b)
    var diff = x.count ^ y.count
    for i in 0..<max(x.count, y.count) {
        let u = i < x.count ? x[i] : 0
        let v = i < y.count ? y[i] : 0
        diff |= Int(u ^ v)
    }
    return diff == 0
}
