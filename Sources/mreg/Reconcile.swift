import ArgumentParser
import Foundation
import MregGit
import MregReconciler

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Make this host serve what deploy/ENV.yaml on the main branch says: pull, materialize, load, heal.",
        discussion: """
            Each interval (with jitter) asks the remote for the branch tip (a ref advertisement, no fetch) and fetches into a bare mirror only when it moved. The versions this host must serve are written to the store atomically (checksums checked), loaded through the engine's repository API, checked ready and smoke-tested before traffic switches. Each model goes to the first engine (--server, then --engine in order) that serves its version's format; a model no engine serves is reported, never blocks the others. A commit that is wrong as a whole (manifest, signature) is applied not at all and not retried until the branch moves; a model this host cannot load is left as it was and reported failed while the others are applied. --once does one pass: exit 0 when converged, 1 when not. See docs/reconcile.md.

            Examples:
              mreg reconcile --repo git://git.example.com/registry.git \\
                --env production --host srv-01 --server http://127.0.0.1:8080 \\
                --store /var/lib/mreg/store --listen 127.0.0.1:9090
              mreg reconcile --repo ./registry --env staging --host dev \\
                --server http://127.0.0.1:8080 --store ./store --once
              mreg reconcile --repo ./registry --env production --host srv-02 --store ./store \\
                --engine mreg=http://127.0.0.1:8080 \\
                --engine mlserver=http://127.0.0.1:8081,repo=/var/lib/mlserver/models
            """)

    @Option(help: "The registry's Git remote: a URL (git://, ssh://, https://, file://) or a path.")
    var repo: String

    @Option(help: "The environment whose deploy/ENV.yaml to follow.")
    var env: String

    @Option(help: "This host's name, as listed under 'hosts:' in the manifest.")
    var host: String

    @Option(help: "mreg serve's base URL: the same as --engine mreg=URL.")
    var server: String?

    @Option(name: .customLong("engine"), help: ArgumentHelp(
        "An engine this host drives: KIND=URL[,repo=DIR][,formats=F+F] (mreg, mlserver; repeat; the first that serves a model's format serves it).",
        valueName: "engine"))
    var engineSpecs: [String] = []

    @Option(help: "The server's store folder (STORE/MODEL/VERSION/).")
    var store: String

    @Option(help: "The branch to follow.")
    var branch = "main"

    @Option(help: "The registry folder inside the repository, when not at its root.")
    var path: String?

    @Option(help: "Time between passes: 30s, 500ms, 2m, or seconds.")
    var interval = "30s"

    @Option(help: "Longest wait for the Git remote in one call (ref advertisement, fetch): 60s, 2m, or seconds.")
    var gitTimeout = "60s"

    @Flag(help: "Do one pass and exit: 0 when converged, 1 when not.")
    var once = false

    @Option(help: "File holding the bearer token of the server's repository API.")
    var adminTokenFile: String?

    @Option(help: "OpenSSH allowed-signers file: apply only tips signed by one of its keys.")
    var allowedSigners: String?

    @Option(help: "Serve /status, /metrics and /healthz on this address (127.0.0.1:9090; port 0 picks one).")
    var listen: String?

    @Flag(help: "Change nothing; report drift and new commits (also while STORE/.mreg/suspend exists).")
    var suspend = false

    @Option(help: "The bare mirror repository (default STORE/.mreg/mirror.git).")
    var mirror: String?

    /// The engines from --server and --engine, in the order given (--server first).
    func engines() throws -> [Engine] {
        var list = [Engine]()
        do throws(EngineError) {
            if let server { list.append(try Engine.parse("mreg=" + server)) }
            for spec in engineSpecs { list.append(try Engine.parse(spec)) }
            try Engine.validate(list)
        } catch {
            throw ValidationError(error.description)
        }
        guard !list.isEmpty else { throw ValidationError("name the engines this host drives: --server URL or --engine KIND=URL") }
        return list
    }

    func validate() throws {
        guard let git = Reconcile.seconds(gitTimeout), git > 0, git <= 86_400 else {
            throw ValidationError("invalid --git-timeout '\(gitTimeout)' (examples: 60s, 2m; at most 24h)")
        }
        _ = try engines()
        guard let seconds = Reconcile.seconds(interval) else { throw ValidationError("invalid --interval '\(interval)' (examples: 30s, 500ms, 2m)") }
        guard seconds <= Reconciler.maxDelay else {
            throw ValidationError("--interval '\(interval)' is longer than the longest wait, 168h")
        }
        if let listen, StatusServer.parseAddress(listen) == nil {
            throw ValidationError("invalid --listen '\(listen)' (expected HOST:PORT, e.g. 127.0.0.1:9090)")
        }
    }

    /// `30s`, `500ms`, `2m`, `1h` or plain seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count)), n > 0, n.isFinite else { return nil }
            return n * factor
        }
        guard let n = Double(text), n > 0, n.isFinite else { return nil }
        return n
    }

    func run() async throws {
        let list = try engines()
        let native = list.first { $0.kind == .mreg }?.url ?? ""
        var config = ReconcilerConfiguration(repository: repo, environment: env, host: host, server: native, store: store)
        config.engines = list
        config.branch = branch
        config.interval = Reconcile.seconds(interval)!
        config.gitTimeout = Reconcile.seconds(gitTimeout)!
        config.suspend = suspend
        config.mirror = mirror
        config.credentials = Credentials.fromEnvironment()
        if let path {
            var p = path
            while p.hasSuffix("/") { p.removeLast() }
            config.prefix = p.isEmpty || p == "." ? "" : p + "/"
        }
        do {
            if let adminTokenFile {
                let token = try String(contentsOfFile: adminTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty else { throw ValidationError("'\(adminTokenFile)' is empty") }
                config.adminToken = token
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot read --admin-token-file '\(adminTokenFile!)'")
        }
        let reconciler: Reconciler
        do {
            if let allowedSigners { config.verifier = try SignatureVerifier(allowedSignersFile: allowedSigners) }
            reconciler = try Reconciler(configuration: config)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }

        if once {
            let record = await reconciler.pass()
            print(Reconcile.line(record))
            if await !reconciler.converged { throw ExitCode(1) }
            return
        }
        // With --listen, the first line on stdout is the status address: passes start once it is bound.
        let (bound, signalBound) = AsyncStream.makeStream(of: Void.self)
        let waitForListener = listen != nil
        let loop = Task {
            if waitForListener {
                for await _ in bound { break }
            }
            await reconciler.run { record in
                // One line per pass that did or found something.
                // A refusal or an outage is logged once, and again only when its reason changes.
                if record.outcome != .unchanged && !record.repeatsPrevious {
                    FileHandle.standardOutput.write(Data((Reconcile.line(record) + "\n").utf8))
                }
            }
        }
        guard let listen, let (host, port) = StatusServer.parseAddress(listen) else {
            await loop.value
            return
        }
        let server = StatusServer(board: reconciler.board, host: host, port: port)
        do {
            try await server.run(onListening: { address in
                FileHandle.standardOutput.write(Data("status on \(address)\n".utf8))
                signalBound.yield()
            })
        } catch {
            loop.cancel()
            printError("cannot serve status on '\(listen)': \(error)")
            throw ExitCode(2)
        }
        loop.cancel()
    }

    static func line(_ record: PassRecord) -> String {
        let commit = record.commit.map { String($0.prefix(12)) } ?? "-"
        let ms = Int((record.seconds * 1000).rounded())
        var text = "\(record.outcome.rawValue) \(commit) \(ms)ms"
        if let detail = record.detail { text += ": " + detail }
        return text
    }
}
