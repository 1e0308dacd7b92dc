import CGit2
import Foundation

/// The state of one remote operation, shared with libgit2's callbacks through their `payload`.
///
/// Lives only for the duration of one call (the caller keeps it alive with `withExtendedLifetime`);
/// callbacks record what they saw here instead of in globals.
final class RemoteSession {
    /// The URL as given, with any credentials in it; only `displayURL` goes into messages.
    let url: String
    let credentials: Credentials
    /// What the callbacks decided, reported in place of libgit2's less specific error.
    var failure: GitError?
    /// Credential kinds already offered: a kind the remote refused is never offered again.
    private var offered = Set<String>()
    private var credentialCalls = 0
    /// Per-ref rejections reported by the remote after a push (ref -> reason).
    var rejections = [(ref: String, reason: String)]()
    /// What the remote printed on the side band (hook output), trimmed to a few kilobytes.
    var remoteMessages = ""
    /// The updates a push is about to make (destination ref, remote's id, our id).
    var pushUpdates = [(ref: String, remote: ObjectID, local: ObjectID)]()

    /// More calls than this means libgit2 keeps retrying refused credentials.
    static let maxCredentialCalls = 5

    init(url: String, credentials: Credentials) {
        self.url = url
        self.credentials = credentials
    }

    var displayURL: String { redactedURL(url) }

    /// Callbacks for libgit2 whose payload is this session (valid while the session is alive).
    func callbacks() throws(GitError) -> git_remote_callbacks {
        var cb = git_remote_callbacks()
        try check(git_remote_init_callbacks(&cb, UInt32(GIT_REMOTE_CALLBACKS_VERSION)), "git_remote_init_callbacks")
        cb.payload = Unmanaged.passUnretained(self).toOpaque()
        cb.credentials = { out, _, usernameFromURL, allowed, payload in
            guard let out, let payload else { return -1 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            return session.acquire(out, usernameFromURL: usernameFromURL.map { String(cString: $0) }, allowed: allowed)
        }
        cb.certificate_check = { cert, valid, host, payload in
            guard let cert, let payload else { return -1 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            return session.checkCertificate(cert, valid: valid != 0, host: host.map { String(cString: $0) } ?? "")
        }
        cb.sideband_progress = { text, length, payload in
            guard let text, let payload, length > 0 else { return 0 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            if session.remoteMessages.utf8.count < 4096 {
                let bytes = UnsafeRawBufferPointer(start: text, count: Int(length))
                session.remoteMessages += String(decoding: bytes, as: UTF8.self)
            }
            return 0
        }
        cb.push_update_reference = { ref, status, payload in
            guard let ref, let payload else { return 0 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            if let status { session.rejections.append((String(cString: ref), String(cString: status))) }
            return 0
        }
        cb.push_negotiation = { updates, count, payload in
            guard let updates, let payload else { return 0 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            for i in 0..<count {
                guard let update = updates[i]?.pointee, let dst = update.dst_refname else { continue }
                session.pushUpdates.append((String(cString: dst), ObjectID(update.src), ObjectID(update.dst)))
            }
            return 0
        }
        return cb
    }

    // MARK: Credentials

    private func acquire(
        _ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>, usernameFromURL: String?, allowed: UInt32
    ) -> Int32 {
        credentialCalls += 1
        if credentialCalls > Self.maxCredentialCalls {
            return give(.authenticationFailed(url: displayURL, reason: "the remote refused the credentials \(credentialCalls - 1) times"))
        }
        let sshUser = usernameFromURL ?? credentials.username ?? "git"
        if allowed == GIT_CREDENTIAL_USERNAME.rawValue {
            // SSH asks for the user name alone before it lists the authentication methods.
            return git_credential_username_new(out, sshUser)
        }
        var candidates = [String]()
        if allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0 {
            if credentials.sshKeyPath != nil { candidates.append("ssh key") }
            if credentials.useSSHAgent { candidates.append("ssh agent") }
        }
        if allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0, credentials.token != nil {
            candidates.append("token")
        }
        guard let kind = candidates.first(where: { !offered.contains($0) }) else {
            if !offered.isEmpty {
                return give(.authenticationFailed(
                    url: displayURL, reason: "the remote refused the \(offered.sorted().joined(separator: " and "))"))
            }
            let hint =
                allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0
                ? "set MREG_SSH_KEY or start an ssh agent (SSH_AUTH_SOCK)" : "set MREG_GIT_TOKEN (and MREG_GIT_USERNAME)"
            return give(.authenticationFailed(url: displayURL, reason: "the remote asks for credentials; \(hint)"))
        }
        offered.insert(kind)
        switch kind {
        case "ssh key":
            let key = credentials.sshKeyPath!
            let pub = key + ".pub"
            let publicKey: String? = FileManager.default.fileExists(atPath: pub) ? pub : nil
            return git_credential_ssh_key_new(out, sshUser, publicKey, key, credentials.sshKeyPassphrase)
        case "ssh agent":
            return git_credential_ssh_key_from_agent(out, sshUser)
        default:
            let user = credentials.username ?? usernameFromURL ?? "x-access-token"
            return git_credential_userpass_plaintext_new(out, user, credentials.token!)
        }
    }

    /// Records `error` as the outcome and tells libgit2 to stop.
    private func give(_ error: GitError) -> Int32 {
        failure = error
        if case .authenticationFailed = error { return GIT_EAUTH.rawValue }
        return GIT_ECERTIFICATE.rawValue
    }

    // MARK: Host keys

    private func checkCertificate(_ cert: UnsafeMutablePointer<git_cert>, valid: Bool, host: String) -> Int32 {
        guard cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 else {
            // TLS: libgit2 verified the chain against the system's CA store; keep its verdict.
            return valid ? 0 : GIT_PASSTHROUGH.rawValue
        }
        // For SSH, libgit2 1.5 sets `valid` when the key matches ~/.ssh/known_hosts.
        if valid || credentials.acceptUnknownHostKeys { return 0 }
        let hostkey = UnsafeMutableRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        var fingerprint = "unknown"
        if hostkey.type.rawValue & GIT_CERT_SSH_SHA256.rawValue != 0 {
            var hash = hostkey.hash_sha256
            let data = withUnsafeBytes(of: &hash) { Data($0) }
            fingerprint = "SHA256:" + data.base64EncodedString().replacingOccurrences(of: "=", with: "")
        }
        if let knownHostsPath = credentials.knownHostsPath, hostkey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0,
            let raw = hostkey.hostkey
        {
            let key = Data(bytes: raw, count: hostkey.hostkey_len)
            let port = RemoteAddress(url).port
            if KnownHosts(path: knownHostsPath).trusts(host: host, port: port, key: key) { return 0 }
        }
        return give(.untrustedHostKey(host: host, fingerprint: fingerprint))
    }

    // MARK: Errors

    /// The error for a failed libgit2 call in this session: a callback's verdict when there is one,
    /// otherwise libgit2's message naming the function and the (redacted) URL.
    func error(_ code: Int32, _ function: StaticString) -> GitError {
        if let failure { return failure }
        var message = "error \(code)"
        if let err = git_error_last(), let text = err.pointee.message {
            message = String(cString: text)
            while let last = message.last, last == "\n" || last == "." || last == " " { message.removeLast() }
        }
        message = redacting(message, secrets: credentials.secrets)
        if code == GIT_EAUTH.rawValue || message.contains("authentication replays") {
            return .authenticationFailed(url: displayURL, reason: message)
        }
        return .remoteFailed(function: "\(function)", url: displayURL, code: code, message: message)
    }

    /// Runs a libgit2 call and turns a negative result into this session's error.
    func check(_ result: Int32, _ function: StaticString) throws(GitError) {
        if result < 0 { throw error(result, function) }
    }
}

/// Host and port of a remote URL, for matching host keys.
struct RemoteAddress {
    var host: String?
    var port: Int?

    init(_ url: String) {
        if let schemeEnd = url.range(of: "://") {
            let rest = url[schemeEnd.upperBound...]
            var authority = rest.prefix(while: { $0 != "/" })
            if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") { port = Int(after.dropFirst()) }
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...])
            } else {
                host = String(authority)
            }
        } else if let colon = url.firstIndex(of: ":") {
            var h = url[..<colon]
            if let at = h.lastIndex(of: "@") { h = h[h.index(after: at)...] }
            host = String(h)
        }
    }
}
