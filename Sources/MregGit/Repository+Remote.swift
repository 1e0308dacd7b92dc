import CGit2
import Foundation

// Remotes: ref advertisement (ls-remote), fetch and push over local paths, file://, git://,
// ssh:// (and scp-like user@host:path) and http(s)://. Remotes are always anonymous (in memory):
// nothing about a remote is written to the configuration, and no URL goes into FETCH_HEAD or a
// reflog, so a URL with credentials in it can never end up in the repository.

extension Repository {
    /// The refs a remote advertises (`HEAD`, `refs/heads/...`, peeled tags as `refs/tags/x^{}`),
    /// without a local repository: only connects and lists, downloads and writes nothing.
    public static func remoteReferences(url: String, credentials: Credentials) throws(GitError) -> [String: ObjectID] {
        _ = libgit2Initialized
        try requireLocalRepository(url)
        let session = RemoteSession(url: url, credentials: credentials)
        defer { withExtendedLifetime(session) {} }
        var remote: OpaquePointer?
        try session.check(git_remote_create_detached(&remote, url), "git_remote_create_detached")
        defer { git_remote_free(remote) }
        return try listReferences(remote!, session: session)
    }

    /// The refs a remote (a URL, or the name of a configured remote such as `origin`) advertises.
    /// Cheap enough to poll: connects, lists and disconnects; downloads and writes nothing.
    public func remoteReferences(url: String, credentials: Credentials) throws(GitError) -> [String: ObjectID] {
        let resolved = try resolveRemote(url, forPush: false)
        let session = RemoteSession(url: resolved, credentials: credentials)
        defer { withExtendedLifetime(session) {} }
        var remote: OpaquePointer?
        try session.check(createInMemoryRemote(&remote, resolved), "git_remote_create_with_opts")
        defer { git_remote_free(remote) }
        return try Self.listReferences(remote!, session: session)
    }

    private static func listReferences(_ remote: OpaquePointer, session: RemoteSession) throws(GitError) -> [String: ObjectID] {
        var callbacks = try session.callbacks()
        try session.check(git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, nil, nil), "git_remote_connect")
        defer { git_remote_disconnect(remote) }
        var refs = [String: ObjectID]()
        for head in try advertisedHeads(remote, session: session) { refs[head.name] = head.id }
        return refs
    }

    private static func advertisedHeads(_ remote: OpaquePointer, session: RemoteSession) throws(GitError) -> [(name: String, id: ObjectID)] {
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try session.check(git_remote_ls(&heads, &count, remote), "git_remote_ls")
        var out = [(name: String, id: ObjectID)]()
        for i in 0..<count {
            guard let head = heads?[i]?.pointee, let name = head.name else { continue }
            out.append((String(cString: name), ObjectID(head.oid)))
        }
        return out
    }

    /// Fetches `refspecs` (`+refs/heads/main:refs/remotes/origin/main`; a leading `+` allows a
    /// forced update, as after a force-push) from a URL or configured remote name.
    ///
    /// A refspec without `+` may only fast-forward its local ref: otherwise `GitError.fetchRejected`
    /// and no ref moves. Tags come only through explicit refspecs; FETCH_HEAD is not written.
    public func fetch(url: String, refspecs: [String], credentials: Credentials) throws(GitError) {
        let resolved = try resolveRemote(url, forPush: false)
        let session = RemoteSession(url: resolved, credentials: credentials)
        defer { withExtendedLifetime(session) {} }
        try refuseCheckedOutBranch(refspecs, session: session)
        var remote: OpaquePointer?
        try session.check(createInMemoryRemote(&remote, resolved), "git_remote_create_with_opts")
        defer { git_remote_free(remote) }

        var options = git_fetch_options()
        try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "git_fetch_options_init")
        options.callbacks = try session.callbacks()
        options.prune = GIT_FETCH_NO_PRUNE
        options.update_fetchhead = 0
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE

        try session.check(git_remote_connect(remote, GIT_DIRECTION_FETCH, &options.callbacks, nil, nil), "git_remote_connect")
        defer { git_remote_disconnect(remote) }
        let specs = try StringArray(refspecs)
        defer { specs.free() }
        var array = specs.strarray
        try session.check(git_remote_download(remote, &array, &options), "git_remote_download")
        let heads = try Self.advertisedHeads(remote!, session: session)
        try requireSources(refspecs, advertised: heads, session: session)
        try checkFastForwards(heads, refspecs: refspecs, session: session)
        // An explicit reflog message: libgit2's default names the URL, which may carry credentials.
        let message = "mreg: fetch from \(session.displayURL)"
        try session.check(
            git_remote_update_tips(remote, &options.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, message),
            "git_remote_update_tips")
    }

    /// Fetches the remote's `branch` into `localRef` (forced: the remote may have been
    /// force-pushed) and returns the id it now points at.
    @discardableResult
    public func fetchBranch(
        _ branch: String = "main", url: String, into localRef: String, credentials: Credentials
    ) throws(GitError) -> ObjectID {
        let source = branch.hasPrefix("refs/") ? branch : "refs/heads/\(branch)"
        try fetch(url: url, refspecs: ["+\(source):\(localRef)"], credentials: credentials)
        guard let id = try referenceTarget(localRef) else {
            throw GitError.notFound("branch '\(branch)' on '\(redactedURL(url))'")
        }
        return id
    }

    /// Pushes `refspecs` (`refs/heads/main:refs/heads/main`, `+` to force) to a URL or configured
    /// remote name (its `pushurl` when set). A ref the remote refuses, or one that would not
    /// fast-forward, throws `GitError.pushRejected` naming the ref and the remote's message.
    /// Nothing is written locally.
    ///
    /// To a repository on this machine (a path or `file://`), libgit2 1.5 writes the remote's refs
    /// without checking that they fast-forward; there mreg sends the objects under a private ref
    /// and moves each real ref itself by compare-and-swap, so a push that lost a race is refused as
    /// it is over the network.
    public func push(url: String, refspecs: [String], credentials: Credentials) throws(GitError) {
        let resolved = try resolveRemote(url, forPush: true)
        if let path = Repository.localPath(resolved) {
            try pushLocally(to: path, display: resolved, refspecs: refspecs, credentials: credentials)
            return
        }
        try transportPush(resolved, refspecs: refspecs, credentials: credentials)
    }

    /// The folder of a remote on this machine: a plain path or a `file://` URL; nil for network URLs.
    static func localPath(_ url: String) -> String? {
        if url.hasPrefix("file://") { return String(url.dropFirst("file://".count)).removingPercentEncoding }
        let scpLike = url.prefix(while: { $0 != "/" }).contains(":")
        return url.contains("://") || scpLike ? nil : url
    }

    /// A push to a repository on this machine that never loses an update: objects first (under
    /// `refs/mreg/incoming/…`), then every ref by compare-and-swap against what it was before.
    private func pushLocally(to path: String, display: String, refspecs: [String], credentials: Credentials) throws(GitError) {
        let remote = try Repository.open(at: path)
        var updates = [(src: String, dst: String, id: ObjectID, expected: ObjectID?, force: Bool)]()
        for spec in refspecs {
            let force = spec.hasPrefix("+")
            let body = force ? String(spec.dropFirst()) : spec
            let parts = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let src = parts[0], dst = parts.count > 1 && !parts[1].isEmpty ? parts[1] : parts[0]
            guard let id = try referenceTarget(src) else { throw GitError.notFound("'\(src)' to push") }
            if !remote.isBare, remote.headReferenceName == dst {
                throw GitError.pushRejected(url: display, ref: dst, reason: "it is checked out in the remote's working tree")
            }
            let expected = try remote.referenceTarget(dst)
            if !force, let expected, expected != id {
                var fastForward = !dst.hasPrefix("refs/tags/") && contains(expected)
                if fastForward { fastForward = try isAncestor(expected, of: id) }
                guard fastForward else {
                    throw GitError.pushRejected(
                        url: display, ref: dst,
                        reason: dst.hasPrefix("refs/tags/") ? "already exists"
                            : "non-fast-forward: the remote has commits this push would drop; fetch and build on them, or force with '+'")
                }
            }
            updates.append((src, dst, id, expected, force))
        }
        let incoming = updates.indices.map { i in "refs/mreg/incoming/\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))-\(i)" }
        defer {
            for (i, ref) in incoming.enumerated() { try? remote.deleteReference(ref, expected: updates[i].id) }
        }
        let transfer = zip(updates, incoming).map { u, ref in "+\(u.src):\(ref)" }
        // The remote fetches the objects from here (libgit2 1.5 cannot push into a non-bare repository).
        if !transfer.isEmpty { try remote.fetch(url: gitDir, refspecs: transfer, credentials: credentials) }
        for u in updates where u.expected != u.id {
            do {
                try remote.updateReference(u.dst, to: u.id, expected: u.expected, message: "push")
            } catch GitError.refMoved {
                throw GitError.pushRejected(
                    url: display, ref: u.dst,
                    reason: u.dst.hasPrefix("refs/tags/") ? "already exists" : "the remote moved while pushing; fetch and build on it")
            }
        }
    }

    /// Pushes through libgit2's transport.
    private func transportPush(_ resolved: String, refspecs: [String], credentials: Credentials) throws(GitError) {
        let session = RemoteSession(url: resolved, credentials: credentials)
        defer { withExtendedLifetime(session) {} }
        var remote: OpaquePointer?
        try session.check(createInMemoryRemote(&remote, resolved), "git_remote_create_with_opts")
        defer { git_remote_free(remote) }

        var options = git_push_options()
        try check(git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION)), "git_push_options_init")
        options.callbacks = try session.callbacks()
        let specs = try StringArray(refspecs)
        defer { specs.free() }
        var array = specs.strarray
        let result = git_remote_push(remote, &array, &options)
        if result == GIT_ENONFASTFORWARD.rawValue, session.failure == nil {
            // libgit2 checks this before sending anything and does not say which ref.
            let ref = try nonFastForwardRef(session.pushUpdates, refspecs: refspecs) ?? "?"
            throw GitError.pushRejected(
                url: session.displayURL, ref: ref,
                reason: "non-fast-forward: the remote has commits this push would drop; fetch and build on them, or force with '+'")
        }
        try session.check(result, "git_remote_push")
        if let rejection = session.rejections.sorted(by: { $0.ref < $1.ref }).first {
            var reason = rejection.reason
            let remoteSaid = session.remoteMessages.split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if !remoteSaid.isEmpty { reason += " (remote: \(remoteSaid.joined(separator: "; ")))" }
            throw GitError.pushRejected(
                url: session.displayURL, ref: rejection.ref,
                reason: redacting(reason, secrets: credentials.secrets))
        }
    }

    /// The URL configured for remote `name` (`remote.NAME.url`), nil when there is none.
    public func remoteURL(name: String) throws(GitError) -> String? {
        try configString("remote.\(name).url")
    }

    /// Stores `url` as `remote.NAME.url`; refuses URLs that carry a password or token.
    public func setRemoteURL(name: String, url: String) throws(GitError) {
        if redactedURL(url) != url, url.contains("://") {
            throw GitError.credentialsInURL(redactedURL(url))
        }
        try setConfigString("remote.\(name).url", url)
    }

    /// An anonymous remote owned by this repository. `url.*.insteadOf` is not applied: libgit2 1.5.1
    /// leaks about 1 KB (pcre2 match data) per call while matching those config keys, which adds up
    /// in a reconciler that polls every few seconds.
    private func createInMemoryRemote(_ remote: inout OpaquePointer?, _ url: String) -> Int32 {
        var options = git_remote_create_options()
        guard git_remote_create_options_init(&options, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION)) == 0 else { return -1 }
        options.repository = pointer
        options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
        return git_remote_create_with_opts(&remote, url, &options)
    }

    /// A configured remote's URL when `urlOrName` names one, otherwise `urlOrName` itself.
    func resolveRemote(_ urlOrName: String, forPush: Bool) throws(GitError) -> String {
        var valid: Int32 = 0
        guard !urlOrName.contains("/"), !urlOrName.contains(":"),
            git_remote_name_is_valid(&valid, urlOrName) == 0, valid == 1
        else {
            try requireLocalRepository(urlOrName)
            return urlOrName
        }
        if forPush, let push = try configString("remote.\(urlOrName).pushurl") { return push }
        guard let url = try remoteURL(name: urlOrName) else {
            if FileManager.default.fileExists(atPath: urlOrName) { return urlOrName }  // a relative path
            throw GitError.notFound("remote '\(urlOrName)'")
        }
        try requireLocalRepository(url)
        return url
    }

    /// A fetch into the checked-out branch would leave the working tree behind the branch.
    private func refuseCheckedOutBranch(_ refspecs: [String], session: RemoteSession) throws(GitError) {
        guard !isBare, let head = headReferenceName else { return }
        for spec in refspecs {
            var parsed: OpaquePointer?
            try check(git_refspec_parse(&parsed, spec, 1), "git_refspec_parse")
            defer { git_refspec_free(parsed) }
            if git_refspec_dst(parsed) != nil, git_refspec_dst_matches(parsed, head) == 1 {
                throw GitError.fetchRejected(
                    url: session.displayURL, ref: head,
                    reason: "it is checked out; fetch into a bare mirror or a refs/remotes/ ref")
            }
        }
    }

    /// Like `git fetch`, a refspec naming one ref the remote does not have is an error, rather
    /// than a silent no-op that would leave a stale local ref looking fresh.
    private func requireSources(
        _ refspecs: [String], advertised heads: [(name: String, id: ObjectID)], session: RemoteSession
    ) throws(GitError) {
        let names = Set(heads.map(\.name))
        for spec in refspecs {
            var parsed: OpaquePointer?
            try check(git_refspec_parse(&parsed, spec, 1), "git_refspec_parse")
            defer { git_refspec_free(parsed) }
            guard let src = git_refspec_src(parsed).map({ String(cString: $0) }), !src.contains("*") else { continue }
            let candidates = [src, "refs/\(src)", "refs/heads/\(src)", "refs/tags/\(src)"]
            if !candidates.contains(where: names.contains) {
                throw GitError.notFound("'\(src)' on '\(session.displayURL)'")
            }
        }
    }

    /// Before any ref moves: every ref a refspec without `+` would update must fast-forward.
    private func checkFastForwards(
        _ heads: [(name: String, id: ObjectID)], refspecs: [String], session: RemoteSession
    ) throws(GitError) {
        let strict = refspecs.filter { !$0.hasPrefix("+") }
        for spec in strict {
            var parsed: OpaquePointer?
            try check(git_refspec_parse(&parsed, spec, 1), "git_refspec_parse")
            defer { git_refspec_free(parsed) }
            guard let dst = git_refspec_dst(parsed), dst.pointee != 0 else { continue }
            for head in heads where git_refspec_src_matches(parsed, head.name) == 1 {
                var buffer = git_buf()
                try check(git_refspec_transform(&buffer, parsed, head.name), "git_refspec_transform")
                let local = String(cString: buffer.ptr)
                git_buf_dispose(&buffer)
                guard let current = try referenceTarget(local), current != head.id else { continue }
                let fastForward = contains(head.id) ? try isAncestor(current, of: head.id) : false
                if !fastForward {
                    throw GitError.fetchRejected(
                        url: session.displayURL, ref: local,
                        reason: "non-fast-forward (the remote was force-pushed?); use '+\(spec)' to accept it")
                }
            }
        }
    }

    /// The first pushed ref (not forced) whose remote tip is not an ancestor of what we send.
    private func nonFastForwardRef(
        _ updates: [(ref: String, remote: ObjectID, local: ObjectID)], refspecs: [String]
    ) throws(GitError) -> String? {
        var forced = Set<String>()
        for spec in refspecs where spec.hasPrefix("+") {
            var parsed: OpaquePointer?
            guard git_refspec_parse(&parsed, spec, 0) == 0 else { continue }
            if let dst = git_refspec_dst(parsed) { forced.insert(String(cString: dst)) }
            git_refspec_free(parsed)
        }
        let zero = ObjectID(hex: String(repeating: "0", count: 40))!
        for update in updates where update.remote != zero && !forced.contains(update.ref) {
            let fastForward = contains(update.remote) ? try isAncestor(update.remote, of: update.local) : false
            if !fastForward { return update.ref }
        }
        return updates.first?.ref
    }
}

/// A plain path that does not exist gets a clear error: libgit2 would call it an "unsupported URL protocol".
func requireLocalRepository(_ url: String) throws(GitError) {
    let scpLike = url.prefix(while: { $0 != "/" }).contains(":")
    guard !url.contains("://"), !scpLike else { return }
    if !FileManager.default.fileExists(atPath: url) { throw GitError.notFound("repository '\(url)'") }
}

/// A `git_strarray` over C copies of Swift strings; `free()` releases them.
struct StringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) throws(GitError) {
        count = strings.count
        pointers = .allocate(capacity: max(count, 1))
        for (i, s) in strings.enumerated() { pointers[i] = strdup(s) }
    }

    var strarray: git_strarray { git_strarray(strings: pointers, count: count) }

    func free() {
        for i in 0..<count { Foundation.free(pointers[i]) }
        pointers.deallocate()
    }
}

extension Repository {
    /// The names of the configured remotes, sorted.
    public func remoteNames() throws(GitError) -> [String] {
        var list = git_strarray()
        try check(git_remote_list(&list, pointer), "git_remote_list")
        defer { git_strarray_dispose(&list) }
        var names = [String]()
        for i in 0..<list.count {
            if let p = list.strings[i] { names.append(String(cString: p)) }
        }
        return names.sorted()
    }
}
