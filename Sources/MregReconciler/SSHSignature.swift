import CCrypto
import Foundation

/// An SSH public key as OpenSSH writes it: the type and the wire-format blob.
public struct SSHPublicKey: Sendable, Equatable, Hashable {
    public var type: String
    public var blob: [UInt8]

    /// `SHA256:...` as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = blob.withUnsafeBufferPointer { mreg_digest(256, $0.baseAddress, $0.count, &digest) }
        var b64 = Data(digest).base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }
}

/// One line of an OpenSSH allowed-signers file: `principals [options] keytype base64key [comment]`.
public struct AllowedSigner: Sendable, Equatable {
    /// Patterns (`*`, `?`, `!` to exclude) the signer's identity must match, as ssh-keygen reads them.
    public var principals: [String]
    public var key: SSHPublicKey
    /// From `namespaces="git,file"` (patterns too); nil allows every namespace.
    public var namespaces: [String]?
    /// From `valid-after=` / `valid-before=`: the window in which a signature time is accepted.
    public var validAfter: Int64?
    public var validBefore: Int64?

    public init(principals: [String], key: SSHPublicKey, namespaces: [String]? = nil, validAfter: Int64? = nil, validBefore: Int64? = nil) {
        self.principals = principals
        self.key = key
        self.namespaces = namespaces
        self.validAfter = validAfter
        self.validBefore = validBefore
    }
}

/// What is wrong with a signature, or with the file of allowed signers.
public enum SignatureError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsigned
    case notSSH
    case malformed(String)
    case unknownKey(fingerprint: String)
    case wrongNamespace(String)
    case unsupportedKey(String)
    case invalid(fingerprint: String)
    case allowedSigners(file: String, line: Int, reason: String)
    case principal(fingerprint: String, identity: String)
    case outsideValidity(fingerprint: String, reason: String)

    public var description: String {
        switch self {
        case .unsigned: return "the commit is not signed"
        case .notSSH: return "the commit has a signature that is not an SSH signature (gpg.format=ssh)"
        case .malformed(let why): return "the SSH signature cannot be read: \(why)"
        case .unknownKey(let fp): return "signed by key \(fp), which is not in the allowed signers"
        case .wrongNamespace(let ns): return "signature namespace is '\(ns)', not 'git'"
        case .unsupportedKey(let type): return "key type '\(type)' is not supported (ed25519, ecdsa-sha2-nistp256/384/521, rsa)"
        case .invalid(let fp): return "the signature by key \(fp) does not match the commit"
        case .allowedSigners(let file, let line, let reason): return "'\(file)' line \(line): \(reason)"
        case .principal(let fp, let identity): return "key \(fp) is not allowed to sign as '\(identity)' (no matching principal in the allowed signers)"
        case .outsideValidity(let fp, let reason): return "key \(fp) \(reason)"
        }
    }
}

/// Reads SSH wire-format fields: uint32 lengths, strings, big-endian integers.
struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func uint32() throws(SignatureError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw .malformed("truncated") }
        let v = bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        offset += 4
        return v
    }

    mutating func string() throws(SignatureError) -> [UInt8] {
        let n = Int(try uint32())
        guard n <= bytes.count - offset else { throw .malformed("truncated") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    mutating func text() throws(SignatureError) -> String {
        String(decoding: try string(), as: UTF8.self)
    }

    /// An mpint without its sign-padding zero bytes.
    mutating func mpint() throws(SignatureError) -> [UInt8] {
        Array(try string().drop(while: { $0 == 0 }))
    }
}

func wireString(_ bytes: [UInt8]) -> [UInt8] {
    let n = UInt32(bytes.count)
    return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
}

/// Verifies Git commits signed with SSH keys (`git commit -S` with `gpg.format=ssh`), in process,
/// against an OpenSSH allowed-signers file — the check `ssh-keygen -Y verify -n git` makes.
public struct SignatureVerifier: Sendable {
    public let signers: [AllowedSigner]

    public init(signers: [AllowedSigner]) { self.signers = signers }

    /// Reads an allowed-signers file.
    public init(allowedSignersFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SignatureError.allowedSigners(file: path, line: 0, reason: "cannot be read")
        }
        try self.init(signers: SignatureVerifier.parseAllowedSigners(text, file: path))
    }

    static let keyTypes: Set<String> = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    /// Parses the allowed-signers format; comments and blank lines are skipped.
    public static func parseAllowedSigners(_ text: String, file: String) throws(SignatureError) -> [AllowedSigner] {
        var out = [AllowedSigner]()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let tokens = tokenize(line)
            func fail(_ reason: String) -> SignatureError { .allowedSigners(file: file, line: i + 1, reason: reason) }
            guard tokens.count >= 3 else { throw fail("expected 'principals [options] keytype key'") }
            var index = 1
            var options = SignerOptions()
            if !keyTypes.contains(tokens[1]) {
                do { options = try SignerOptions.parse(tokens[1]) } catch { throw fail(error.reason) }
                index = 2
            }
            guard tokens.count > index + 1 else { throw fail("expected a key type and a key") }
            let type = tokens[index]
            guard keyTypes.contains(type) else { throw fail("unknown key type '\(type)'") }
            // Security-key signatures carry flags and a counter mreg does not check: refused, not half-checked.
            guard !type.hasPrefix("sk-") else { throw fail("security-key signers ('\(type)') are not supported") }
            guard let blob = Data(base64Encoded: tokens[index + 1]) else { throw fail("the key is not base64") }
            var reader = WireReader(Array(blob))
            guard (try? reader.text()) == type else { throw fail("the key does not hold a '\(type)' key") }
            let principals = tokens[0].split(separator: ",").map(String.init)
            out.append(AllowedSigner(principals: principals, key: SSHPublicKey(type: type, blob: Array(blob)), namespaces: options.namespaces,
                                     validAfter: options.validAfter, validBefore: options.validBefore))
        }
        return out
    }

    /// Splits on whitespace outside double quotes.
    static func tokenize(_ line: String) -> [String] {
        var tokens = [String]()
        var current = ""
        var quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() }
            if !quoted && (c == " " || c == "\t") {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    /// Splits an options field on commas outside double quotes.
    static func splitOptions(_ field: String) -> [String] {
        var parts = [String]()
        var current = ""
        var quoted = false
        for c in field {
            if c == "\"" { quoted.toggle() }
            if c == "," && !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    /// Checks an armored SSH signature over `data` in namespace `git`, as `ssh-keygen -Y verify -I
    /// IDENTITY -n NAMESPACE -Overify-time=TIME` does: a line of the file must hold the key, a
    /// principal pattern matching `identity` (nil: any line with the key), the namespace, and a
    /// validity window holding `time` (seconds since 1970; git passes the committer time). Returns the signer.
    @discardableResult
    public func verify(armored: String, data: Data, namespace: String = "git", identity: String? = nil, time: Int64? = nil) throws(SignatureError) -> AllowedSigner {
        let blob = try SignatureVerifier.dearmor(armored)
        var r = WireReader(blob)
        guard blob.count >= 6, Array(blob[0..<6]) == Array("SSHSIG".utf8) else { throw .malformed("no SSHSIG magic") }
        r.offset = 6
        guard try r.uint32() == 1 else { throw .malformed("unknown SSHSIG version") }
        let keyBlob = try r.string()
        let ns = try r.text()
        let reserved = try r.string()
        let hashAlgorithm = try r.text()
        let signature = try r.string()
        var keyReader = WireReader(keyBlob)
        let keyType = try keyReader.text()
        let key = SSHPublicKey(type: keyType, blob: keyBlob)
        guard ns == namespace else { throw .wrongNamespace(ns) }
        let signer = try matchingSigner(key: key, namespace: namespace, identity: identity, time: time)
        let bits: Int32
        switch hashAlgorithm {
        case "sha256": bits = 256
        case "sha512": bits = 512
        default: throw .malformed("unknown hash algorithm '\(hashAlgorithm)'")
        }
        var digest = [UInt8](repeating: 0, count: Int(bits) / 8)
        let ok = data.withUnsafeBytes { raw in
            mreg_digest(bits, raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &digest)
        }
        guard ok == 1 else { throw .malformed("digest failed") }
        let signed = Array("SSHSIG".utf8) + wireString(Array(ns.utf8)) + wireString(reserved)
            + wireString(Array(hashAlgorithm.utf8)) + wireString(digest)
        guard try SignatureVerifier.check(key: key, signature: signature, message: signed) else {
            throw .invalid(fingerprint: key.fingerprint)
        }
        return signer
    }

    /// The first line that allows `key` to sign in `namespace` as `identity` at `time`; the error says
    /// what the closest line lacked.
    func matchingSigner(key: SSHPublicKey, namespace: String, identity: String?, time: Int64?) throws(SignatureError) -> AllowedSigner {
        let withKey = signers.filter { $0.key.blob == key.blob }
        guard !withKey.isEmpty else { throw .unknownKey(fingerprint: key.fingerprint) }
        let inNamespace = withKey.filter { $0.namespaces.map { Pattern.matchList(namespace, $0) == .match } ?? true }
        guard !inNamespace.isEmpty else { throw .unknownKey(fingerprint: key.fingerprint) }
        let asIdentity = inNamespace.filter { signer in identity.map { Pattern.matchList($0, signer.principals) == .match } ?? true }
        guard !asIdentity.isEmpty else { throw .principal(fingerprint: key.fingerprint, identity: identity ?? "") }
        guard let time else { return asIdentity[0] }
        if let ok = asIdentity.first(where: { ($0.validAfter.map { time >= $0 } ?? true) && ($0.validBefore.map { time <= $0 } ?? true) }) {
            return ok
        }
        let first = asIdentity[0]
        if let after = first.validAfter, time < after {
            throw .outsideValidity(fingerprint: key.fingerprint, reason: "is not valid before \(SignerOptions.format(after)) (signature time \(SignerOptions.format(time)))")
        }
        throw .outsideValidity(fingerprint: key.fingerprint, reason: "expired at \(SignerOptions.format(first.validBefore ?? 0)) (signature time \(SignerOptions.format(time)))")
    }

    /// The bytes between the armor lines, base64-decoded.
    static func dearmor(_ armored: String) throws(SignatureError) -> [UInt8] {
        let lines = armored.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: "-----BEGIN SSH SIGNATURE-----") else {
            if armored.contains("BEGIN PGP SIGNATURE") || armored.contains("BEGIN SIGNED MESSAGE") { throw .notSSH }
            throw .malformed("no BEGIN SSH SIGNATURE line")
        }
        guard let end = lines.firstIndex(of: "-----END SSH SIGNATURE-----"), end > begin else {
            throw .malformed("no END SSH SIGNATURE line")
        }
        guard let data = Data(base64Encoded: lines[(begin + 1)..<end].joined()) else { throw .malformed("not base64") }
        return Array(data)
    }

    /// Checks the inner signature (`string type, string blob`) with the key.
    static func check(key: SSHPublicKey, signature: [UInt8], message: [UInt8]) throws(SignatureError) -> Bool {
        var s = WireReader(signature)
        let sigType = try s.text()
        let sig = try s.string()
        var k = WireReader(key.blob)
        _ = try k.string()
        let result: Int32
        switch key.type {
        case "ssh-ed25519":
            guard sigType == "ssh-ed25519" else { throw .malformed("signature type '\(sigType)' for an ed25519 key") }
            let pub = try k.string()
            result = mreg_verify_ed25519(pub, pub.count, message, message.count, sig, sig.count)
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            guard sigType == key.type else { throw .malformed("signature type '\(sigType)' for a \(key.type) key") }
            _ = try k.string()  // the curve name
            let point = try k.string()
            var inner = WireReader(sig)
            let rr = try inner.mpint()
            let ss = try inner.mpint()
            let bits: Int32 = key.type.hasSuffix("256") ? 256 : key.type.hasSuffix("384") ? 384 : 521
            result = mreg_verify_ecdsa(bits, point, point.count, rr, rr.count, ss, ss.count, message, message.count)
        case "ssh-rsa":
            let hash: Int32
            switch sigType {
            case "rsa-sha2-256": hash = 256
            case "rsa-sha2-512": hash = 512
            default: throw .malformed("RSA signature type '\(sigType)' is not allowed (rsa-sha2-256 or rsa-sha2-512)")
            }
            let e = try k.mpint()
            let n = try k.mpint()
            result = mreg_verify_rsa(hash, n, n.count, e, e.count, message, message.count, sig, sig.count)
        default:
            throw .unsupportedKey(key.type)
        }
        if result < 0 { throw .malformed("the key or signature is not valid for \(key.type)") }
        return result == 1
    }
}
