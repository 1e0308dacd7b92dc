import Foundation
import Synchronization
import MregTestSupport
import Testing

@testable import MregGit

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the whole remote story against a served bare repository: push, ls-remote, fetch into a
/// bare mirror, force-push then fetch with and without `+`, and a rejected non-fast-forward push.
/// `url(name)` is the URL of `DIR/name` on the server, `bare(name)` its path on disk.
func exerciseRemote(
    url: (String) -> String, bare: (String) -> String, credentials: Credentials, work: TempDir
) throws {
    #expect(git(["init", "-q", "--bare", "-b", "main", bare("r.git")], in: work.path).status == 0)
    let remote = url("r.git")
    let local = try Repository.create(at: work.sub("local"))
    let c1 = try local.commit(
        changes: try blobs(local, ["deploy/production.yaml": "iris: v1\n"]), onBranch: "refs/heads/main", parent: nil,
        message: "first", identity: fixedIdentity)

    // Push a branch, check it with the git CLI.
    try local.push(url: remote, refspecs: ["refs/heads/main:refs/heads/main"], credentials: credentials)
    #expect(git(["--git-dir", bare("r.git"), "rev-parse", "main"], in: work.path).stdout == c1.hex)
    #expect(git(["--git-dir", bare("r.git"), "fsck", "--strict"], in: work.path).status == 0)

    // ls-remote, with and without a local repository.
    let refs = try local.remoteReferences(url: remote, credentials: credentials)
    #expect(refs["refs/heads/main"] == c1)
    #expect(refs["HEAD"] == c1)
    #expect(try Repository.remoteReferences(url: remote, credentials: credentials)["refs/heads/main"] == c1)

    // Fetch into a bare mirror.
    let mirror = try Repository.create(at: work.sub("mirror.git"), bare: true)
    #expect(try mirror.fetchBranch("main", url: remote, into: "refs/heads/main", credentials: credentials) == c1)
    let c2 = try local.commit(
        changes: try blobs(local, ["deploy/production.yaml": "iris: v2\n"]), onBranch: "refs/heads/main", parent: c1,
        message: "second", identity: fixedIdentity)
    try local.push(url: remote, refspecs: ["refs/heads/main:refs/heads/main"], credentials: credentials)
    try mirror.fetch(url: remote, refspecs: ["refs/heads/main:refs/heads/main"], credentials: credentials)
    #expect(try mirror.referenceTarget("refs/heads/main") == c2)
    #expect(git(["--git-dir", mirror.gitDir, "fsck", "--strict"], in: work.path).status == 0)
    // libgit2 1.5 leaves an empty FETCH_HEAD even with update_fetchhead = 0; nothing is recorded in it.
    #expect(((try? String(contentsOfFile: mirror.gitDir + "/FETCH_HEAD", encoding: .utf8)) ?? "").isEmpty)

    // Force-push a rewritten main.
    let rewritten = try local.commit(
        changes: try blobs(local, ["deploy/production.yaml": "iris: v2-fixed\n"]), onBranch: "refs/heads/fix",
        parent: c1, newBranch: true, message: "second, rewritten", identity: fixedIdentity)
    try local.push(url: remote, refspecs: ["+refs/heads/fix:refs/heads/main"], credentials: credentials)
    #expect(git(["--git-dir", bare("r.git"), "rev-parse", "main"], in: work.path).stdout == rewritten.hex)

    // Without '+' the mirror refuses the non-fast-forward and keeps its ref; with '+' it follows.
    let refused = #expect(throws: GitError.self) {
        try mirror.fetch(url: remote, refspecs: ["refs/heads/main:refs/heads/main"], credentials: credentials)
    }
    if case .fetchRejected(_, let ref, _)? = refused { #expect(ref == "refs/heads/main") } else { Issue.record("\(String(describing: refused))") }
    #expect(try mirror.referenceTarget("refs/heads/main") == c2)
    try mirror.fetch(url: remote, refspecs: ["+refs/heads/main:refs/heads/main"], credentials: credentials)
    #expect(try mirror.referenceTarget("refs/heads/main") == rewritten)
    #expect(git(["--git-dir", mirror.gitDir, "fsck", "--strict"], in: work.path).status == 0)

    // Pushing the old main now is not a fast-forward: a typed error naming the ref.
    let rejected = #expect(throws: GitError.self) {
        try local.push(url: remote, refspecs: ["refs/heads/main:refs/heads/main"], credentials: credentials)
    }
    if case .pushRejected(let u, let ref, let reason)? = rejected {
        #expect(ref == "refs/heads/main")
        #expect(reason.contains("non-fast-forward"))
        #expect(u == redactedURL(remote))
    } else {
        Issue.record("expected pushRejected, got \(String(describing: rejected))")
    }
    #expect(git(["--git-dir", bare("r.git"), "rev-parse", "main"], in: work.path).stdout == rewritten.hex)
}

/// A remote that refuses every push with a message, as a server-side policy would.
func installDecliningHook(_ bareRepo: String) {
    let hook = bareRepo + "/hooks/pre-receive"
    try? FileManager.default.createDirectory(atPath: bareRepo + "/hooks", withIntermediateDirectories: true)
    _ = FileManager.default.createFile(
        atPath: hook, contents: Data("#!/bin/sh\necho 'main is protected by policy'\nexit 1\n".utf8),
        attributes: [.posixPermissions: 0o755])
}

func currentUser() -> String {
    guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return "root" }
    return String(cString: name)
}

@Suite struct RemoteTests {
    @Test func redactedURLRemovesUserInformation() {
        #expect(redactedURL("https://user:s3cret@example.com/org/repo.git") == "https://example.com/org/repo.git")
        #expect(redactedURL("https://ghp_TOKEN@example.com/repo.git") == "https://example.com/repo.git")
        #expect(redactedURL("https://example.com/a@b/repo.git") == "https://example.com/a@b/repo.git")
        #expect(redactedURL("ssh://git@example.com:2222/repo.git") == "ssh://example.com:2222/repo.git")
        #expect(redactedURL("git@example.com:org/repo.git") == "example.com:org/repo.git")
        #expect(redactedURL("/srv/git/repo.git") == "/srv/git/repo.git")
        #expect(redactedURL("file:///srv/git/repo.git") == "file:///srv/git/repo.git")
        #expect(redacting("failed for 'http://u:pw@h:8/x' and https://tok@h2/y", secrets: ["topsecret"]) ==
            "failed for 'http://h:8/x' and https://h2/y")
        #expect(redacting("echo topsecret", secrets: ["topsecret"]) == "echo <redacted>")
    }

    @Test func credentialsFromEnvironmentNeverPrintSecrets() {
        let c = Credentials.fromEnvironment([
            "MREG_GIT_TOKEN": "tok-123456", "MREG_SSH_KEY": "/k/id", "MREG_SSH_KEY_PASSPHRASE": "pass-phrase",
            "SSH_AUTH_SOCK": "/tmp/agent", "MREG_SSH_INSECURE_HOSTKEY": "1", "MREG_SSH_KNOWN_HOSTS": "/k/kh",
        ])
        #expect(c.token == "tok-123456")
        #expect(c.username == nil)
        #expect(c.sshKeyPath == "/k/id")
        #expect(c.sshKeyPassphrase == "pass-phrase")
        #expect(c.useSSHAgent)
        #expect(c.acceptUnknownHostKeys)
        #expect(c.knownHostsPath == "/k/kh")
        #expect(!"\(c)".contains("tok-123456") && !"\(c)".contains("pass-phrase"))
        #expect(!String(reflecting: c).contains("tok-123456"))
        let empty = Credentials.fromEnvironment(["MREG_GIT_TOKEN": "", "MREG_SSH_INSECURE_HOSTKEY": "0"])
        #expect(empty == .none)
    }

    @Test func knownHostsMatchesPlainEntriesOnly() {
        let key = Data([1, 2, 3, 4])
        let b64 = key.base64EncodedString()
        let hosts = KnownHosts(text: """
            # comment
            [127.0.0.1]:2222,other ssh-ed25519 \(b64)
            example.com ssh-ed25519 \(b64)
            |1|c2FsdA==|aGFzaA== ssh-ed25519 \(b64)
            @revoked revoked.example ssh-ed25519 \(b64)
            revoked.example ssh-ed25519 \(b64)
            """)
        #expect(hosts.trusts(host: "127.0.0.1", port: 2222, key: key))
        #expect(!hosts.trusts(host: "127.0.0.1", port: 22, key: key))
        #expect(!hosts.trusts(host: "127.0.0.1", port: 2222, key: Data([9])))
        #expect(hosts.trusts(host: "example.com", port: nil, key: key))
        #expect(!hosts.trusts(host: "revoked.example", port: nil, key: key))
        #expect(RemoteAddress("ssh://git@[::1]:2222/r.git").port == 2222)
        #expect(RemoteAddress("ssh://git@host:2222/r.git").host == "host")
        #expect(RemoteAddress("git@host:org/r.git").host == "host")
    }

    @Test func localPathAndFileURL() throws {
        let dir = TempDir("remote-file")
        defer { dir.remove() }
        try exerciseRemote(
            url: { "file://" + dir.sub("srv/" + $0) }, bare: { dir.sub("srv/" + $0) }, credentials: .none,
            work: dir)
        // A plain path works too, and a named remote resolves through remote.NAME.url.
        let local = try Repository.open(at: dir.sub("local"))
        #expect(try local.remoteReferences(url: dir.sub("srv/r.git"), credentials: .none)["refs/heads/main"] != nil)
        try local.setRemoteURL(name: "origin", url: dir.sub("srv/r.git"))
        #expect(try local.remoteURL(name: "origin") == dir.sub("srv/r.git"))
        #expect(try local.remoteURL(name: "upstream") == nil)
        try local.push(url: "origin", refspecs: ["refs/heads/fix:refs/heads/fix"], credentials: .none)
        #expect(git(["--git-dir", dir.sub("srv/r.git"), "rev-parse", "fix"], in: dir.path).stdout
            == (try local.referenceTarget("refs/heads/fix"))?.hex)
        #expect(throws: GitError.credentialsInURL("https://example.com/r.git")) {
            try local.setRemoteURL(name: "leaky", url: "https://user:pw@example.com/r.git")
        }
        // A branch the remote does not have is an error, not a silent no-op.
        let mirror = try Repository.open(at: dir.sub("mirror.git"))
        let missing = #expect(throws: GitError.self) {
            try mirror.fetchBranch("nope", url: "file://" + dir.sub("srv/r.git"), into: "refs/heads/main", credentials: .none)
        }
        #expect(missing == .notFound("'refs/heads/nope' on 'file://\(dir.sub("srv/r.git"))'"))
        // Fetching into the checked-out branch of a working tree is refused.
        let refused = #expect(throws: GitError.self) {
            try local.fetch(url: "origin", refspecs: ["+refs/heads/main:refs/heads/main"], credentials: .none)
        }
        if case .fetchRejected(_, "refs/heads/main", _)? = refused {} else { Issue.record("\(String(describing: refused))") }
    }

    @Test func localPushesNeverLoseAnUpdate() throws {
        let dir = TempDir("remote-race")
        defer { dir.remove() }
        git(["init", "-q", "--bare", "-b", "main", dir.sub("r.git")], in: dir.path)
        let seed = try Repository.create(at: dir.sub("seed"))
        let base = try seed.commit(changes: try blobs(seed, ["a": "0\n"]), onBranch: "refs/heads/main", parent: nil, message: "base", identity: fixedIdentity)
        try seed.push(url: dir.sub("r.git"), refspecs: ["refs/heads/main:refs/heads/main"], credentials: .none)
        for i in 0..<8 { git(["clone", "-q", dir.sub("r.git"), dir.sub("c\(i)")], in: dir.path) }
        // Eight clones push eight different commits on the same base at once, by path and file://:
        // exactly one lands, every other push is refused, and the remote holds the one that landed.
        let results = Mutex<[Int: Bool]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            guard let repo = try? Repository.open(at: dir.sub("c\(i)")),
                  let blob = try? repo.writeBlob(Data("\(i)\n".utf8)),
                  let _ = try? repo.commit(changes: ["a": .blob(blob)], onBranch: "refs/heads/main", parent: base, message: "c\(i)", identity: fixedIdentity)
            else { return }
            let url = i % 2 == 0 ? dir.sub("r.git") : "file://" + dir.sub("r.git")
            let landed: Bool
            do {
                try repo.push(url: url, refspecs: ["refs/heads/main:refs/heads/main"], credentials: .none)
                landed = true
            } catch {
                landed = false
            }
            results.withLock { $0[i] = landed }
        }
        let landed = results.withLock { $0 }.filter(\.value).map(\.key)
        #expect(results.withLock { $0.count } == 8)
        #expect(landed.count == 1, "\(landed)")
        if let winner = landed.first {
            #expect(git(["--git-dir", dir.sub("r.git"), "rev-parse", "main"], in: dir.path).stdout
                == git(["rev-parse", "main"], in: dir.sub("c\(winner)")).stdout)
        }
        #expect(git(["--git-dir", dir.sub("r.git"), "for-each-ref", "refs/mreg/"], in: dir.path).stdout == "", "no private refs left")
        #expect(git(["--git-dir", dir.sub("r.git"), "fsck", "--strict"], in: dir.path).status == 0)
        // A tag that exists is never moved without force, and a non-bare remote takes pushes too.
        let c0 = try Repository.open(at: dir.sub("c0"))
        try c0.updateReference("refs/tags/t", to: base, expected: nil, message: "t")
        try c0.push(url: dir.sub("r.git"), refspecs: ["refs/tags/t:refs/tags/t"], credentials: .none)
        let c1 = try Repository.open(at: dir.sub("c1"))
        try c1.updateReference("refs/tags/t", to: try c1.referenceTarget("refs/heads/main")!, expected: nil, message: "t")
        let taken = #expect(throws: GitError.self) {
            try c1.push(url: "file://" + dir.sub("r.git"), refspecs: ["refs/tags/t:refs/tags/t"], credentials: .none)
        }
        if case .pushRejected(_, "refs/tags/t", let reason)? = taken { #expect(reason == "already exists") } else { Issue.record("\(String(describing: taken))") }
        #expect(git(["--git-dir", dir.sub("r.git"), "rev-parse", "t"], in: dir.path).stdout == base.hex)
        try c1.push(url: dir.sub("c2"), refspecs: ["refs/heads/main:refs/heads/other"], credentials: .none)
        #expect(git(["rev-parse", "other"], in: dir.sub("c2")).stdout == (try c1.referenceTarget("refs/heads/main"))?.hex)
    }

    @Test func gitDaemon() throws {
        let dir = TempDir("remote-git")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.sub("srv"), withIntermediateDirectories: true)
        let daemon = try startGitDaemon(root: dir.sub("srv"))
        defer { daemon.stop() }
        try exerciseRemote(
            url: { "git://127.0.0.1:\(daemon.port)/" + $0 }, bare: { dir.sub("srv/" + $0) }, credentials: .none,
            work: dir)

        // A remote hook that declines: the typed error names the ref and carries the remote's words.
        installDecliningHook(dir.sub("srv/r.git"))
        let local = try Repository.open(at: dir.sub("local"))
        let error = #expect(throws: GitError.self) {
            try local.push(
                url: "git://127.0.0.1:\(daemon.port)/r.git", refspecs: ["refs/heads/main:refs/heads/other"],
                credentials: .none)
        }
        if case .pushRejected(_, let ref, let reason)? = error {
            #expect(ref == "refs/heads/other")
            #expect(reason.contains("pre-receive hook declined"))
            #expect(reason.contains("main is protected by policy"))
        } else {
            Issue.record("expected pushRejected, got \(String(describing: error))")
        }
    }

    @Test func smartHTTPWithToken() throws {
        let dir = TempDir("remote-http")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.sub("srv"), withIntermediateDirectories: true)
        let token = "tok-\(UUID().uuidString.prefix(12))"
        let server = try startHTTPServer(root: dir.sub("srv"), token: token)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)/"
        try exerciseRemote(
            url: { base + $0 }, bare: { dir.sub("srv/" + $0) }, credentials: Credentials(token: token), work: dir)

        // A wrong token: a clear error, quickly, without the token in it.
        let wrong = "wrong-\(UUID().uuidString.prefix(8))"
        let started = Date()
        let error = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: base + "r.git", credentials: Credentials(token: wrong))
        }
        #expect(Date().timeIntervalSince(started) < 10)
        if case .authenticationFailed(let url, _)? = error { #expect(url == base + "r.git") } else { Issue.record("\(String(describing: error))") }
        #expect(!"\(error!)".contains(wrong) && !"\(error!)".contains(token))
        #expect("\(error!)".hasPrefix("authentication failed for '\(base)r.git'"))

        // No token at all: the error says what to set.
        let missing = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: base + "r.git", credentials: .none)
        }
        #expect("\(missing!)".contains("MREG_GIT_TOKEN"))

        // Credentials inside the URL never reach an error message.
        let leaky = "http://someone:\(wrong)@127.0.0.1:\(server.port)/missing.git"
        let leakError = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: leaky, credentials: .none)
        }
        #expect(!"\(leakError!)".contains(wrong) && !"\(leakError!)".contains("someone"))
    }

    @Test func smartHTTPWithoutAuth() throws {
        let dir = TempDir("remote-http-open")
        defer { dir.remove() }
        #expect(git(["init", "-q", "--bare", "-b", "main", dir.sub("srv/r.git")], in: dir.path).status == 0)
        let server = try startHTTPServer(root: dir.sub("srv"))
        defer { server.stop() }
        let local = try Repository.create(at: dir.sub("local"))
        let c1 = try local.commit(
            changes: try blobs(local, ["a.txt": "a\n"]), onBranch: "refs/heads/main", parent: nil, message: "first",
            identity: fixedIdentity)
        let url = "http://127.0.0.1:\(server.port)/r.git"
        try local.push(url: url, refspecs: ["refs/heads/main:refs/heads/main"], credentials: .none)
        #expect(try local.remoteReferences(url: url, credentials: .none)["refs/heads/main"] == c1)
        #expect(git(["--git-dir", dir.sub("srv/r.git"), "rev-parse", "main"], in: dir.path).stdout == c1.hex)
    }

    @Test func remoteDownFailsFast() throws {
        let port = freePort()
        for url in ["git://127.0.0.1:\(port)/r.git", "http://127.0.0.1:\(port)/r.git", "ssh://git@127.0.0.1:\(port)/r.git"] {
            let started = Date()
            let error = #expect(throws: GitError.self) {
                try Repository.remoteReferences(url: url, credentials: .none)
            }
            #expect(Date().timeIntervalSince(started) < 5)
            if case .remoteFailed(let function, let u, _, let message)? = error {
                #expect(function == "git_remote_connect")
                #expect(u == redactedURL(url))
                #expect(message.contains("127.0.0.1"))
            } else {
                Issue.record("expected remoteFailed for \(url), got \(String(describing: error))")
            }
        }
        let missing = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: "/nonexistent/repo.git", credentials: .none)
        }
        #expect(missing == .notFound("repository '/nonexistent/repo.git'"))
        let dir = TempDir("remote-none")
        defer { dir.remove() }
        let local = try Repository.create(at: dir.path)
        #expect(throws: GitError.notFound("remote 'upstream'")) {
            try local.remoteReferences(url: "upstream", credentials: .none)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"), "needs sshd (openssh-server; scripts/test.sh installs it)"))
    func sshWithKeyAndHostKeyPolicy() throws {
        let dir = TempDir("remote-ssh")
        defer { dir.remove() }
        guard let ssh = try SSHServer.start(in: dir) else {
            Issue.record("sshd is installed but did not start")
            return
        }
        defer { ssh.server.stop() }
        try FileManager.default.createDirectory(atPath: dir.sub("srv"), withIntermediateDirectories: true)
        let knownHosts = dir.write("known_hosts", ssh.knownHostsLine + "\n")
        let user = currentUser()
        let base = "ssh://\(user)@127.0.0.1:\(ssh.port)\(dir.sub("srv"))/"
        let credentials = Credentials(sshKeyPath: ssh.clientKey, knownHostsPath: knownHosts)
        try exerciseRemote(url: { base + $0 }, bare: { dir.sub("srv/" + $0) }, credentials: credentials, work: dir)

        // An unknown host key is refused, with its fingerprint; the test-only switch accepts it.
        let unknown = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: base + "r.git", credentials: Credentials(sshKeyPath: ssh.clientKey))
        }
        if case .untrustedHostKey(let host, let fingerprint)? = unknown {
            #expect(host == "127.0.0.1")
            #expect(fingerprint.hasPrefix("SHA256:"))
        } else {
            Issue.record("expected untrustedHostKey, got \(String(describing: unknown))")
        }
        let insecure = Credentials(sshKeyPath: ssh.clientKey, acceptUnknownHostKeys: true)
        #expect(try Repository.remoteReferences(url: base + "r.git", credentials: insecure)["refs/heads/main"] != nil)

        // A key the server does not know: a clear authentication error after one try, not a loop.
        let started = Date()
        let refused = #expect(throws: GitError.self) {
            try Repository.remoteReferences(
                url: base + "r.git", credentials: Credentials(sshKeyPath: dir.sub("stranger"), knownHostsPath: knownHosts))
        }
        #expect(Date().timeIntervalSince(started) < 10)
        if case .authenticationFailed(let url, _)? = refused { #expect(url == redactedURL(base + "r.git")) } else { Issue.record("\(String(describing: refused))") }
        // No credentials at all: the error says what to set.
        let none = #expect(throws: GitError.self) {
            try Repository.remoteReferences(url: base + "r.git", credentials: Credentials(knownHostsPath: knownHosts))
        }
        #expect("\(none!)".contains("MREG_SSH_KEY"))
    }
}
