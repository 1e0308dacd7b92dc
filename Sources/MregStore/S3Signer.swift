import Foundation

/// AWS Signature Version 4 for S3 requests (headers, not query strings).
struct S3Signer: Sendable {
    let credentials: S3Credentials
    let region: String

    /// A payload hash S3 accepts when the body is not hashed up front (multipart parts, streams).
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256`, the session token if
    /// any, and `Authorization`. `headers` are the request's others (lowercase names), all signed;
    /// `host` must be among them.
    func sign(method: String, path: String, query: [(String, String)], headers: [String: String],
              payloadHash: String, date: Date) -> [String: String] {
        let amzDate = S3Signer.timestamp(date)
        let day = String(amzDate.prefix(8))
        var all = headers
        all["x-amz-date"] = amzDate
        all["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { all["x-amz-security-token"] = token }
        let names = all.keys.map { $0.lowercased() }.sorted()
        let canonicalHeaders = names.map { "\($0):\(all[$0]!.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalQuery = S3Signer.canonicalQuery(query)
        let canonical = [method, S3Signer.encode(path, slash: false), canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Digest.sha256Hex(Array(canonical.utf8)))"
        var key = Digest.hmac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        key = Digest.hmac(key: key, region)
        key = Digest.hmac(key: key, "s3")
        key = Digest.hmac(key: key, "aws4_request")
        let signature = hex(Digest.hmac(key: key, toSign))
        var out = all
        for (name, _) in headers { out.removeValue(forKey: name) }
        out["authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return out
    }

    /// The query string as signed and as sent: names and values encoded, sorted, `name=value` joined by `&`.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        var pairs: [(String, String)] = []
        for (name, value) in query { pairs.append((encode(name, slash: true), encode(value, slash: true))) }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        var parts: [String] = []
        for (name, value) in pairs { parts.append(name + "=" + value) }
        return parts.joined(separator: "&")
    }

    /// `20130524T000000Z`.
    static func timestamp(_ date: Date) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ v: Int?) -> String { let s = String(v ?? 0); return s.count < 2 ? "0" + s : s }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }

    /// URI-encodes per SigV4: unreserved characters stay, `/` stays in paths, the rest is `%XX`.
    static func encode(_ s: String, slash: Bool) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where !slash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
