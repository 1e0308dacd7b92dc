import CCrypto

/// A streaming SHA-256 over libcrypto (fast enough to hash a multi-gigabyte artifact while it moves).
final class StreamingSHA256 {
    private let context: UnsafeMutableRawPointer

    init() {
        guard let context = mreg_sha256_new() else { fatalError("libcrypto could not allocate a SHA-256 context") }
        self.context = context
    }

    deinit { mreg_sha256_free(context) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ok = mreg_sha256_update(context, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        precondition(ok == 1, "EVP_DigestUpdate failed")
    }

    /// The lowercase hex digest; the hasher is spent afterwards.
    func finalHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = mreg_sha256_final(context, &out)
        precondition(ok == 1, "EVP_DigestFinal_ex failed")
        return hex(out)
    }
}

/// SHA-256 and HMAC-SHA256 of small inputs, for request signing.
enum Digest {
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let h = StreamingSHA256()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalHex()
    }

    static func hmac(key: [UInt8], _ message: String) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let msg = Array(message.utf8)
        let ok = mreg_hmac_sha256(key, key.count, msg, msg.count, &out)
        precondition(ok == 1, "HMAC failed")
        return out
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
