import AsyncHTTPClient
import Foundation
import MregCore
import NIOCore
import NIOHTTP1

/// A store in an S3-compatible bucket (AWS, MinIO, Ceph, R2, moto): requests signed with SigV4,
/// bodies streamed both ways, deadlines on connecting and on every read.
public struct S3Store: ArtifactStore {
    public let name: String
    let bucket: String
    let prefix: String
    let scheme: String
    /// The `Host` header: the bucket's host for virtual-hosted addressing, with a non-default port.
    let host: String
    let pathStyle: Bool
    let signer: S3Signer
    let timeout: Int
    let partSize: Int
    let client: HTTPClient

    /// Opens the bucket of `config`; credentials and region come from `environment` and the AWS
    /// shared files (see `S3Credentials`).
    public init(config: StoreConfig, environment: [String: String]) throws(ArtifactStoreError) {
        guard case .s3(let bucket, let prefix) = config.location else {
            throw .unusable(store: config.url, message: "not an s3:// store")
        }
        name = config.url
        self.bucket = bucket
        self.prefix = prefix
        let region = S3Credentials.region(configured: config.region, environment)
        let credentials: S3Credentials
        do throws(ArtifactStoreError) {
            credentials = try S3Credentials.resolve(environment)
        } catch {
            if case .unusable(_, let message) = error { throw .unusable(store: config.url, message: message) }
            throw error
        }
        signer = S3Signer(credentials: credentials, region: region)
        pathStyle = config.effectiveAddressing == .path
        var baseHost = "s3.\(region).amazonaws.com"
        var scheme = "https"
        if let endpoint = config.endpoint {
            guard let url = URL(string: endpoint), let h = url.host, let s = url.scheme else {
                throw .unusable(store: config.url, message: "endpoint '\(endpoint)' is not a URL")
            }
            scheme = s
            baseHost = h
            if let port = url.port, port != (s == "https" ? 443 : 80) { baseHost += ":\(port)" }
        }
        self.scheme = scheme
        host = pathStyle ? baseHost : "\(bucket).\(baseHost)"
        timeout = config.timeout
        partSize = config.partSize
        client = HTTPClients.client(timeout: config.timeout)
    }

    /// The full object key of a store key.
    func objectKey(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    /// The request path of an object key; nil key: the bucket itself.
    func path(_ objectKey: String?) -> String {
        let bucketPath = pathStyle ? "/\(bucket)" : ""
        guard let objectKey else { return bucketPath.isEmpty ? "/" : bucketPath }
        return bucketPath + "/" + objectKey
    }

    /// Sends one signed request; `key` is the store key the request is about, for messages.
    func send(_ method: HTTPMethod, path: String, key: String, query: [(String, String)] = [], headers: [String: String] = [:],
              body: HTTPClientRequest.Body? = nil, payloadHash: String = S3Signer.emptyPayload) async throws(ArtifactStoreError) -> HTTPClientResponse {
        var signedHeaders = headers
        signedHeaders["host"] = host
        let auth = signer.sign(method: method.rawValue, path: path, query: query, headers: signedHeaders, payloadHash: payloadHash, date: Date())
        let queryText = S3Signer.canonicalQuery(query)
        var request = HTTPClientRequest(url: "\(scheme)://\(host)\(S3Signer.encode(path, slash: false))" + (queryText.isEmpty ? "" : "?" + queryText))
        request.method = method
        for (name, value) in signedHeaders.merging(auth, uniquingKeysWith: { $1 }) { request.headers.add(name: name, value: value) }
        if let body { request.body = body }
        do {
            // No overall deadline: a multi-gigabyte transfer may take long; the client's read timeout
            // ends one that stalls.
            return try await client.execute(request, deadline: .distantFuture)
        } catch {
            throw transportError(error, key: key)
        }
    }

    func transportError(_ error: any Error, key: String) -> ArtifactStoreError {
        if let store = error as? ArtifactStoreError { return store }
        if let http = error as? HTTPClientError {
            if http == .readTimeout || http == .connectTimeout || http == .deadlineExceeded {
                return .timeout(store: name, key: key, seconds: timeout)
            }
            return .transient(store: name, key: key, message: "\(http)")
        }
        let text = "\(error)"
        return .transient(store: name, key: key, message: text.count > 200 ? String(text.prefix(200)) + "…" : text)
    }

    /// The error an unsuccessful response means, reading at most 64 KiB of its XML body.
    func failure(_ response: HTTPClientResponse, key: String) async -> ArtifactStoreError {
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
        return failure(status: Int(response.status.code), body: body, key: key)
    }

    func failure(status: Int, body: String, key: String) -> ArtifactStoreError {
        let code = S3XML.first("Code", in: body) ?? ""
        if code == "NoSuchBucket" { return .noBucket(store: name, bucket: bucket) }
        if code == "NoSuchKey" || (status == 404 && code.isEmpty) { return .missing(store: name, key: key) }
        if status == 403 || ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"].contains(code) {
            return .accessDenied(store: name, key: key, source: signer.credentials.source)
        }
        if status >= 500 || status == 429 || code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" {
            return .transient(store: name, key: key, message: "HTTP \(status)\(code.isEmpty ? "" : " " + code)")
        }
        let message = (S3XML.first("Message", in: body) ?? "").prefix(200)
        return .refused(store: name, key: key, status: status, message: code.isEmpty ? String(message) : "\(code) \(message)")
    }
}

/// Just enough XML for S3's answers: the text of elements by name, entities decoded.
enum S3XML {
    static func all(_ tag: String, in text: String) -> [String] {
        var out = [String]()
        var rest = text[...]
        while let open = rest.range(of: "<\(tag)>") {
            guard let close = rest[open.upperBound...].range(of: "</\(tag)>") else { break }
            out.append(decode(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func first(_ tag: String, in text: String) -> String? { all(tag, in: text).first }

    static func decode(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
