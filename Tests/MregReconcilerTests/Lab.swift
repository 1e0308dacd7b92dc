import Foundation
import MregCore
import MregML
import MregReconciler
import MregTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

let packageRoot: String = {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.path + "/Package.swift") { dir.deleteLastPathComponent() }
    return dir.path
}()

/// The built `mreg` binary (for `mreg serve`), beside the test bundle.
let mregBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = (exe as NSString).deletingLastPathComponent
    while !dir.isEmpty && dir != "/" {
        if FileManager.default.isExecutableFile(atPath: dir + "/mreg") { return dir + "/mreg" }
        dir = (dir as NSString).deletingLastPathComponent
    }
    return packageRoot + "/.build/debug/mreg"
}()

/// Two trained penguin classifiers (logistic regression, two seeds), made once.
let artifacts: [Data] = {
    let table = try! Table.readCSV(at: URL(fileURLWithPath: packageRoot + "/templates/files/data/penguins.csv"))
    return [1, 2].map { seed in
        let outcome = try! train(TrainRequest(table: table, target: "species", algorithm: .logistic, seed: UInt64(seed)))
        return outcome.artifact.encoded()
    }
}()

/// A penguin classifier of another algorithm (gradient-boosted trees), for a redefined version.
let gbdtArtifact: Data = {
    let table = try! Table.readCSV(at: URL(fileURLWithPath: packageRoot + "/templates/files/data/penguins.csv"))
    return try! train(TrainRequest(table: table, target: "species", algorithm: .gbdt, params: ["max_iter": "5"])).artifact.encoded()
}()

/// A process started by a test with posix_spawn (Foundation's Process misbehaves with daemons);
/// stdout may be read line by line, stderr goes to a file.
final class Spawned: @unchecked Sendable {
    let pid: pid_t
    private let out: FileHandle?
    private var buffer = Data()

    enum Failure: Error { case didNotStart(String) }

    init(_ program: String, _ arguments: [String], captureStdout: Bool = false, stderrFile: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var fds: [Int32] = [-1, -1]
        if captureStdout {
            guard pipe(&fds) == 0 else { throw Failure.didNotStart("pipe") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fd != fds[1] { posix_spawn_file_actions_addclose(&actions, fd) }
        if captureStdout { posix_spawn_file_actions_addclose(&actions, fds[1]) }
        var env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // The test runner's threads block most signals and a child inherits the mask: start with
        // none blocked and default handlers, so SIGTERM ends the child.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let result = posix_spawn(&child, program, &actions, &attributes, argv, envp)
        if captureStdout { close(fds[1]) }
        guard result == 0 else {
            if captureStdout { close(fds[0]) }
            throw Failure.didNotStart("\(program): \(String(cString: strerror(result)))")
        }
        pid = child
        out = captureStdout ? FileHandle(fileDescriptor: fds[0], closeOnDealloc: true) : nil
    }

    /// The next line on stdout (nil at end of file).
    func readLine() -> String? {
        guard let out else { return nil }
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = out.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    func stop(signal: Int32 = SIGTERM) {
        kill(pid, signal)
        var status: Int32 = 0
        for _ in 0..<150 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

/// `mreg serve --port 0` on a store; `url` is its base URL.
final class ModelServerProcess: @unchecked Sendable {
    let process: Spawned
    let url: String
    let port: Int

    init(store: String, log: String = "/dev/null", port: Int = 0, tokenFile: String? = nil, capture: String? = nil) throws {
        let token = tokenFile.map { ["--admin-token-file", $0] } ?? []
        let capturing = capture.map { ["--capture", $0, "--capture-percent", "100"] } ?? []
        process = try Spawned(mregBinary, ["serve", "--store", store, "--port", "\(port)"] + token + capturing, captureStdout: true, stderrFile: log)
        guard let line = process.readLine(), line.hasPrefix("listening on ") else {
            process.stop()
            throw Spawned.Failure.didNotStart("mreg serve")
        }
        url = String(line.dropFirst("listening on ".count))
        self.port = Int(url.split(separator: ":").last!)!
    }

    func stop() { process.stop() }
}

/// `git daemon` over the bare repositories below `root`.
final class GitDaemon: @unchecked Sendable {
    let root: String
    let port: Int
    private(set) var process: Spawned?

    init(root: String, port: Int = freePort()) throws {
        self.root = root
        self.port = port
        try start()
    }

    func start() throws {
        // git-daemon itself, not the `git` wrapper, so that stopping it closes the port.
        let execPath = git(["--exec-path"], in: "/").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        process = try Spawned(execPath + "/git-daemon", [
            "--export-all", "--enable=receive-pack", "--base-path=\(root)", "--port=\(port)", "--reuseaddr",
            "--listen=127.0.0.1", "--informative-errors", root,
        ])
        let deadline = Date().addingTimeInterval(10)
        while !accepts(port) {
            guard Date() < deadline, process!.isRunning else { throw Spawned.Failure.didNotStart("git daemon") }
            usleep(20_000)
        }
    }

    func stop() {
        process?.stop()
        process = nil
    }
}

/// A registry on a Git server, a model server with its store, and a clone to make commits in.
final class Lab: @unchecked Sendable {
    let dir: TempDir
    let work: String
    let store: String
    private(set) var daemon: GitDaemon!
    private(set) var server: ModelServerProcess!
    var repoURL: String { "git://127.0.0.1:\(daemon.port)/registry.git" }

    let token: String?

    init(_ label: String = "rec", token: String? = nil, capture: Bool = false) throws {
        self.token = token
        dir = TempDir(label)
        work = dir.sub("work")
        store = dir.sub("store")
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        git(["init", "-q", "-b", "main"], in: work)
        dir.write("work/mreg.yaml", "schemaVersion: 1\nname: lab\nenvironments:\n  - name: production\n")
        addVersion("penguins", "v1")
        setManifest(["penguins": Deployment(version: "v1")])
        commit("v1 to production")
        try FileManager.default.createDirectory(atPath: dir.sub("remote"), withIntermediateDirectories: true)
        git(["clone", "-q", "--bare", work, dir.sub("remote/registry.git")], in: dir.path)
        git(["remote", "add", "origin", dir.sub("remote/registry.git")], in: work)
        daemon = try GitDaemon(root: dir.sub("remote"))
        do {
            server = try ModelServerProcess(store: store, log: dir.sub("serve.log"), tokenFile: token.map { dir.write("admin-token", $0 + "\n") },
                                            capture: capture ? dir.sub("capture") : nil)
        } catch {
            daemon.stop()
            dir.remove()
            throw error
        }
    }

    func close() {
        server.stop()
        daemon.stop()
        dir.remove()
    }

    /// Writes a version folder (artifact, metrics, version.yaml with checksums) in the clone.
    /// `file` and `format` name the artifact as version.yaml records it (nil: an old version that records none).
    func addVersion(_ model: String, _ version: String, artifact: Data? = nil, corruptAfterRecord: Bool = false,
                    file: String = "model.json", format: String? = nil) {
        let data = artifact ?? artifacts[(Names.versionNumber(version)! - 1) % artifacts.count]
        let folder = "work/models/\(model)/\(version)"
        let metrics = Data("{\"schemaVersion\":1,\"splits\":{\"test\":{\"accuracy\":0.97}}}\n".utf8)
        var record = VersionRecord(
            model: model, version: version, created: "2026-01-01T00:00:00Z", author: "Ada Tester <ada@example.com>",
            source: VersionSource(kind: "register"),
            files: [
                VersionFile(path: "metrics.json", size: metrics.count, sha256: SHA256.hex(metrics)),
                VersionFile(path: file, size: data.count, sha256: SHA256.hex(data)),
            ])
        record.format = format
        record.artifact = format == nil ? nil : file
        dir.write(folder + "/version.yaml", record.render())
        try! metrics.write(to: URL(fileURLWithPath: dir.sub(folder + "/metrics.json")))
        var stored = data
        if corruptAfterRecord { stored[stored.count / 2] ^= 0x20 }
        try! stored.write(to: URL(fileURLWithPath: dir.sub(folder + "/" + file)))
    }

    func setManifest(_ models: [String: Deployment], allowEmpty: Bool = false, environment: String = "production") {
        dir.write("work/deploy/\(environment).yaml", Manifest(environment: environment, allowEmpty: allowEmpty, models: models).render())
    }

    /// Commits everything in the clone; returns the commit id.
    @discardableResult
    func commit(_ message: String, extra: [String] = []) -> String {
        git(["add", "-A"], in: work)
        let r = git(extra + ["commit", "-q", "--allow-empty", "-m", message], in: work)
        #expect(r.status == 0, "git commit: \(r.stderr)")
        return git(["rev-parse", "HEAD"], in: work).stdout
    }

    /// Commits and pushes to the remote's main.
    @discardableResult
    func push(_ message: String, extra: [String] = []) -> String {
        let id = commit(message, extra: extra)
        let r = git(["push", "-q", "origin", "main"], in: work)
        #expect(r.status == 0, "git push: \(r.stderr)")
        return id
    }

    func configuration(host: String = "h1", interval: TimeInterval = 0.1) -> ReconcilerConfiguration {
        var c = ReconcilerConfiguration(repository: repoURL, environment: "production", host: host, server: server.url, store: store)
        c.interval = interval
        c.maxBackoff = 0.4
        return c
    }

    /// What the server serves, straight from its index.
    func serving() async throws -> [String: ServingTarget] {
        try await ServerClient(baseURL: server.url, token: token).serving()
    }

    func versionFolders(_ model: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: store + "/" + model)) ?? []).filter { $0.hasPrefix("v") }.sorted()
    }
}

/// One inference through the default route; returns the HTTP status.
func infer(_ base: String, model: String = "penguins", session: URLSession = .shared) async -> Int {
    var request = URLRequest(url: URL(string: base + "/v2/models/\(model)/infer")!)
    request.httpMethod = "POST"
    request.httpBody = Data("""
        {"inputs":[{"name":"bill_length_mm","shape":[1],"datatype":"FP64","data":[39.1]},\
        {"name":"bill_depth_mm","shape":[1],"datatype":"FP64","data":[18.7]},\
        {"name":"flipper_length_mm","shape":[1],"datatype":"FP64","data":[181]},\
        {"name":"body_mass_g","shape":[1],"datatype":"FP64","data":[3750]},\
        {"name":"island","shape":[1],"datatype":"BYTES","data":["Torgersen"]},\
        {"name":"sex","shape":[1],"datatype":"BYTES","data":["male"]},\
        {"name":"year","shape":[1],"datatype":"FP64","data":[2007]}]}
        """.utf8)
    guard let (_, response) = try? await session.data(for: request) else { return 0 }
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}
