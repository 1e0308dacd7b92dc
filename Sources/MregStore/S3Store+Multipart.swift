import Foundation
import AsyncHTTPClient
import NIOCore

extension S3Store {
    /// A multipart upload: parts of `partSize` sent one after another (one part's buffers in
    /// flight at a time), then completed; any failure aborts the upload so no parts linger.
    func uploadInParts(_ source: String, size: Int, to key: String) async throws(ArtifactStoreError) {
        let objectPath = path(objectKey(key))
        let started = try await send(.POST, path: objectPath, key: key, query: [("uploads", "")])
        guard started.status.code == 200 else { throw await failure(started, key: key) }
        let startBody: String
        do { startBody = String(buffer: try await started.body.collect(upTo: 1 << 20)) } catch { throw transportError(error, key: key) }
        guard let uploadID = S3XML.first("UploadId", in: startBody) else {
            throw .refused(store: name, key: key, status: 200, message: "no UploadId in the answer to starting a multipart upload")
        }
        do throws(ArtifactStoreError) {
            var etags = [String]()
            var offset = 0
            while offset < size {
                let length = min(partSize, size - offset)
                let response = try await send(
                    .PUT, path: objectPath, key: key, query: [("partNumber", String(etags.count + 1)), ("uploadId", uploadID)],
                    headers: ["content-length": String(length)],
                    body: .stream(FileChunks(path: source, offset: offset, length: length), length: .known(Int64(length))),
                    payloadHash: S3Signer.unsignedPayload)
                guard response.status.code == 200, let etag = response.headers.first(name: "etag") else {
                    throw await failure(response, key: key)
                }
                try await drain(response, key: key)
                etags.append(etag)
                offset += length
            }
            try await complete(objectPath, key: key, uploadID: uploadID, etags: etags)
        } catch {
            // The upload's own error is what matters; an abort that fails leaves parts the bucket's
            // lifecycle rule (or `mreg gc`) removes.
            _ = try? await send(.DELETE, path: objectPath, key: key, query: [("uploadId", uploadID)])
            throw error
        }
    }

    private func complete(_ objectPath: String, key: String, uploadID: String, etags: [String]) async throws(ArtifactStoreError) {
        var xml = "<CompleteMultipartUpload>"
        for (i, etag) in etags.enumerated() {
            let escaped = etag.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(escaped)</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let bytes = Array(xml.utf8)
        let response = try await send(
            .POST, path: objectPath, key: key, query: [("uploadId", uploadID)], headers: ["content-length": String(bytes.count)],
            body: .bytes(ByteBuffer(bytes: bytes)), payloadHash: Digest.sha256Hex(bytes))
        // Completing can fail after its 200: the error is then the body.
        let body = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
        guard response.status.code == 200, !body.contains("<Error>") else {
            throw failure(status: response.status.code == 200 ? 500 : Int(response.status.code), body: body, key: key)
        }
    }
}
