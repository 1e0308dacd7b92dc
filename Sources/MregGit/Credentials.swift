import Foundation

/// What mreg may present to a Git remote, and which SSH host keys it trusts.
///
/// Secrets never appear in `description`, in errors or in the repository: the type prints
/// only which kinds of credential are set.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The user name for HTTPS (and for SSH when the URL names none); HTTPS falls back to
    /// `x-access-token`, SSH to `git`.
    public var username: String?
    /// A token sent as the HTTPS password.
    public var token: String?
    /// A private key file for SSH; `<path>.pub` is used as the public half when it exists.
    public var sshKeyPath: String?
    /// The passphrase of `sshKeyPath`, if it has one.
    public var sshKeyPassphrase: String?
    /// Whether to ask the SSH agent (`SSH_AUTH_SOCK`) for keys.
    public var useSSHAgent: Bool
    /// An extra OpenSSH `known_hosts` file whose plain (unhashed) entries are trusted besides
    /// `~/.ssh/known_hosts`.
    public var knownHostsPath: String?
    /// Accepts any SSH host key. For tests only: it gives up protection against a man in the middle.
    public var acceptUnknownHostKeys: Bool

    public init(
        username: String? = nil, token: String? = nil, sshKeyPath: String? = nil, sshKeyPassphrase: String? = nil,
        useSSHAgent: Bool = false, knownHostsPath: String? = nil, acceptUnknownHostKeys: Bool = false
    ) {
        self.username = username
        self.token = token
        self.sshKeyPath = sshKeyPath
        self.sshKeyPassphrase = sshKeyPassphrase
        self.useSSHAgent = useSSHAgent
        self.knownHostsPath = knownHostsPath
        self.acceptUnknownHostKeys = acceptUnknownHostKeys
    }

    /// No credentials: enough for local paths, `file://`, `git://` and public HTTP(S) remotes.
    public static let none = Credentials()

    /// Reads `MREG_GIT_TOKEN`, `MREG_GIT_USERNAME`, `MREG_SSH_KEY`, `MREG_SSH_KEY_PASSPHRASE`,
    /// `SSH_AUTH_SOCK` (agent), `MREG_SSH_KNOWN_HOSTS` and `MREG_SSH_INSECURE_HOSTKEY=1`.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Credentials {
        func value(_ key: String) -> String? {
            guard let v = env[key], !v.isEmpty else { return nil }
            return v
        }
        return Credentials(
            username: value("MREG_GIT_USERNAME"), token: value("MREG_GIT_TOKEN"), sshKeyPath: value("MREG_SSH_KEY"),
            sshKeyPassphrase: value("MREG_SSH_KEY_PASSPHRASE"), useSSHAgent: value("SSH_AUTH_SOCK") != nil,
            knownHostsPath: value("MREG_SSH_KNOWN_HOSTS"), acceptUnknownHostKeys: value("MREG_SSH_INSECURE_HOSTKEY") == "1")
    }

    public var description: String {
        var parts = [String]()
        if let username { parts.append("username: \(username)") }
        if token != nil { parts.append("token: <redacted>") }
        if let sshKeyPath { parts.append("ssh key: \(sshKeyPath)") }
        if sshKeyPassphrase != nil { parts.append("passphrase: <redacted>") }
        if useSSHAgent { parts.append("ssh agent") }
        if let knownHostsPath { parts.append("known hosts: \(knownHostsPath)") }
        if acceptUnknownHostKeys { parts.append("any host key") }
        return "Credentials(\(parts.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    /// The secrets to scrub from any text that leaves the Git layer.
    var secrets: [String] { [token, sshKeyPassphrase].compactMap { $0 }.filter { $0.count >= 4 } }
}

/// `url` without its user information (`user:password@` or a token before `@`), for messages.
///
/// Works on `scheme://` URLs and on scp-like `user@host:path`; anything else comes back unchanged.
public func redactedURL(_ url: String) -> String {
    if let schemeEnd = url.range(of: "://") {
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + String(rest[rest.index(after: at)...])
    }
    // scp-like: user@host:path (the user part ends before the first ':' or '/').
    let head = url.prefix(while: { $0 != "/" })
    if let colon = head.lastIndex(of: ":"), let at = head[..<colon].lastIndex(of: "@") {
        return String(url[url.index(after: at)...])
    }
    return url
}

/// `text` with the user information of every `scheme://` URL in it removed and `secrets` masked.
func redacting(_ text: String, secrets: [String] = []) -> String {
    var out = ""
    var rest = Substring(text)
    while let schemeEnd = rest.range(of: "://") {
        out += rest[..<schemeEnd.upperBound]
        let after = rest[schemeEnd.upperBound...]
        let authorityEnd =
            after.firstIndex(where: { $0 == "/" || $0 == " " || $0 == "'" || $0 == "\"" || $0 == "\n" || $0 == "?" })
            ?? after.endIndex
        let authority = after[..<authorityEnd]
        out += authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority
        rest = after[authorityEnd...]
    }
    out += rest
    for secret in secrets { out = out.replacingOccurrences(of: secret, with: "<redacted>") }
    return out
}
