import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension S3Store {
    public func size(of key: String) async throws(ArtifactStoreError) -> Int? {
        let response = try await send(.HEAD, path: path(objectKey(key)), key: key)
        switch response.status.code {
        case 200:
            return response.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        case 404:
            // HEAD has no body to tell a missing key from a missing bucket: ask about the bucket.
            try await checkBucket(key: key)
            return nil
        default:
            throw failure(status: Int(response.status.code), body: "", key: key)
        }
    }

    /// Throws `noBucket` when the bucket is not there.
    func checkBucket(key: String) async throws(ArtifactStoreError) {
        let response = try await send(.HEAD, path: path(nil), key: key)
        if response.status.code == 404 { throw .noBucket(store: name, bucket: bucket) }
        guard response.status.code == 200 else { throw failure(status: Int(response.status.code), body: "", key: key) }
    }

    public func upload(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError) {
        if size > partSize { return try await uploadInParts(source, size: size, to: key) }
        // A content object's name is the sha256 of its bytes: sign it, so the service checks the upload.
        let name = key.split(separator: "/").last.map(String.init) ?? ""
        let hash = key.hasPrefix("sha256/") && name.count == 64 ? name : S3Signer.unsignedPayload
        let response = try await send(
            .PUT, path: path(objectKey(key)), key: key, headers: ["content-length": String(size)],
            body: .stream(FileChunks(path: source, offset: 0, length: size), length: .known(Int64(size))), payloadHash: hash)
        guard response.status.code == 200 else { throw await failure(response, key: key) }
        try await drain(response, key: key)
    }

    public func download(_ key: String, from offset: Int, into sink: FileSink) async throws(ArtifactStoreError) {
        let headers = offset > 0 ? ["range": "bytes=\(offset)-"] : [:]
        let response = try await send(.GET, path: path(objectKey(key)), key: key, headers: headers)
        guard response.status.code == (offset > 0 ? 206 : 200) else {
            if response.status.code == 404 { try await checkBucket(key: key) }
            throw await failure(response, key: key)
        }
        do {
            for try await buffer in response.body {
                try buffer.withUnsafeReadableBytes { (raw) throws(ArtifactStoreError) in try sink.write(raw) }
            }
        } catch {
            throw transportError(error, key: key)
        }
    }

    public func copy(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError) {
        guard size <= 5 << 30 else {
            throw .refused(store: name, key: key, status: 400, message: "objects above 5 GiB cannot be copied in one request")
        }
        let from = "/\(bucket)/\(objectKey(source))"
        let response = try await send(
            .PUT, path: path(objectKey(key)), key: key, headers: ["x-amz-copy-source": S3Signer.encode(from, slash: false)])
        // A copy can fail after its 200: the error is then the body.
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
        guard response.status.code == 200, !body.contains("<Error>") else {
            throw failure(status: Int(response.status.code) == 200 ? 500 : Int(response.status.code), body: body, key: source)
        }
    }

    public func delete(_ key: String) async throws(ArtifactStoreError) {
        let response = try await send(.DELETE, path: path(objectKey(key)), key: key)
        guard response.status.code == 204 || response.status.code == 200 || response.status.code == 404 else {
            throw await failure(response, key: key)
        }
        try await drain(response, key: key)
    }

    public func list(prefix listPrefix: String) async throws(ArtifactStoreError) -> [StoredObject] {
        var out = [StoredObject]()
        var token: String?
        let full = objectKey(listPrefix)
        let strip = prefix.isEmpty ? 0 : prefix.count + 1
        repeat {
            var query = [("list-type", "2"), ("prefix", full)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(.GET, path: path(nil), key: listPrefix, query: query)
            guard response.status.code == 200 else { throw await failure(response, key: listPrefix) }
            let body: String
            do { body = String(buffer: try await response.body.collect(upTo: 64 << 20)) } catch { throw transportError(error, key: listPrefix) }
            for entry in S3XML.all("Contents", in: body) {
                guard let key = S3XML.first("Key", in: entry), key.count >= strip, let size = S3XML.first("Size", in: entry).flatMap({ Int($0) }) else { continue }
                out.append(StoredObject(key: String(key.dropFirst(strip)), size: size))
            }
            token = S3XML.first("IsTruncated", in: body) == "true" ? S3XML.first("NextContinuationToken", in: body) : nil
        } while token != nil
        return out.sorted { $0.key < $1.key }
    }

    func drain(_ response: HTTPClientResponse, key: String) async throws(ArtifactStoreError) {
        do { _ = try await response.body.collect(upTo: 1 << 20) } catch { throw transportError(error, key: key) }
    }
}
