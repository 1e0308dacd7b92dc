import Foundation
import MregTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A long-running process (server, daemon, reconciler) started with posix_spawn, with no signals
/// blocked, stdout readable line by line and stderr in a file; `stop()` ends it.
final class Daemon: @unchecked Sendable {
    let pid: pid_t
    private let out: FileHandle?
    private var buffer = Data()

    struct DidNotStart: Error { var what: String }

    init(_ program: String, _ arguments: [String], stdout capture: Bool = false, stderr: String = "/dev/null") throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var fds: [Int32] = [-1, -1]
        if capture {
            guard pipe(&fds) == 0 else { throw DidNotStart(what: "pipe") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fd != fds[1] { posix_spawn_file_actions_addclose(&actions, fd) }
        if capture { posix_spawn_file_actions_addclose(&actions, fds[1]) }
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
        var env = ProcessInfo.processInfo.environment
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["MREG_REGISTRY"] = ""
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, program, &actions, &attributes, argv, envp)
        if capture { close(fds[1]) }
        guard result == 0 else {
            if capture { close(fds[0]) }
            throw DidNotStart(what: "\(program): \(String(cString: strerror(result)))")
        }
        pid = child
        out = capture ? FileHandle(fileDescriptor: fds[0], closeOnDealloc: true) : nil
    }

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

    /// Waits for the exit; the status, or nil when it is still running after `seconds`.
    func wait(seconds: Double) -> Int32? {
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
            usleep(10_000)
        }
        return nil
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

/// `mreg serve --port 0`; the URL from its first line.
func startServe(store: String, log: String, capture: String? = nil) throws -> (Daemon, String) {
    try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
    let capturing = capture.map { ["--capture", $0, "--capture-percent", "100"] } ?? []
    let d = try Daemon(mregBinary, ["serve", "--store", store, "--port", "0"] + capturing, stdout: true, stderr: log)
    guard let line = d.readLine(), line.hasPrefix("listening on ") else {
        d.stop()
        throw Daemon.DidNotStart(what: "mreg serve")
    }
    return (d, String(line.dropFirst("listening on ".count)))
}

/// git-daemon (not the `git` wrapper, which would outlive a stop) over the repositories in `root`.
func startGitDaemon(root: String, port: Int) throws -> Daemon {
    let execPath = git(["--exec-path"], in: "/").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let d = try Daemon(execPath + "/git-daemon", [
        "--export-all", "--enable=receive-pack", "--base-path=\(root)", "--port=\(port)", "--reuseaddr",
        "--listen=127.0.0.1", root,
    ])
    let deadline = Date().addingTimeInterval(10)
    while !accepts(port) {
        guard Date() < deadline else {
            d.stop()
            throw Daemon.DidNotStart(what: "git daemon")
        }
        usleep(20_000)
    }
    return d
}

/// An HTTP call; the status and the JSON body.
func httpJSON(_ method: String, _ url: String, body: String? = nil, session: URLSession = .shared) async -> (Int, Any?) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 5
    if let body { request.httpBody = Data(body.utf8) }
    guard let (data, response) = try? await session.data(for: request) else { return (0, nil) }
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, try? JSONSerialization.jsonObject(with: data))
}

let penguinRequest = """
    {"inputs":[{"name":"bill_length_mm","shape":[1],"datatype":"FP64","data":[39.1]},\
    {"name":"bill_depth_mm","shape":[1],"datatype":"FP64","data":[18.7]},\
    {"name":"flipper_length_mm","shape":[1],"datatype":"FP64","data":[181]},\
    {"name":"body_mass_g","shape":[1],"datatype":"FP64","data":[3750]},\
    {"name":"island","shape":[1],"datatype":"BYTES","data":["Torgersen"]},\
    {"name":"sex","shape":[1],"datatype":"BYTES","data":["male"]},\
    {"name":"year","shape":[1],"datatype":"FP64","data":[2007]}]}
    """

/// The stable version the server serves of `model`, from its repository index.
func servedVersion(_ server: String, _ model: String = "penguins") async -> String? {
    let (_, body) = await httpJSON("POST", server + "/v2/repository/index", body: "{}")
    let rows = body as? [[String: Any]] ?? []
    return rows.first { $0["name"] as? String == model && $0["role"] as? String == "stable" }?["version"] as? String
}

/// A registry made with `mreg init` and `mreg train` (penguins v1 and v2), v1 deployed to
/// production, pushed to a bare repository served by git daemon.
struct ReconcileWorld {
    let dir: TempDir
    let work: String
    let remote: String
    let daemon: Daemon
    let port: Int
    var url: String { "git://127.0.0.1:\(port)/registry.git" }

    init(_ label: String) throws {
        dir = TempDir(label)
        work = dir.sub("work")
        struct SetupFailed: Error { var what: String }
        let initialized = mreg(["init", work], in: dir.path)
        guard initialized.status == 0 else { throw SetupFailed(what: "mreg init: \(initialized.stderr)") }
        // Two logistic versions: fast to train and load in a debug build on a busy machine.
        for algorithm in ["logistic", "logistic"] {
            let t = mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--algorithm", algorithm], in: work)
            guard t.status == 0 else { throw SetupFailed(what: "mreg train: \(t.stderr)") }
        }
        dir.write("work/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n    version: v1\n")
        git(["add", "-A"], in: work)
        git(["commit", "-q", "-m", "Deploy penguins v1 to production"], in: work)
        remote = dir.sub("srv/registry.git")
        try FileManager.default.createDirectory(atPath: dir.sub("srv"), withIntermediateDirectories: true)
        git(["clone", "-q", "--bare", work, remote], in: dir.path)
        git(["remote", "add", "origin", remote], in: work)
        port = freePort()
        daemon = try startGitDaemon(root: dir.sub("srv"), port: port)
    }

    /// A promotion as a pull request would land it: a branch edits the manifest, and main merges
    /// it with `git merge --no-ff` and pushes over git://.
    func promote(_ deployment: String, branch: String) {
        git(["checkout", "-q", "-b", branch], in: work)
        dir.write("work/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n\(deployment)")
        git(["commit", "-q", "-am", "Promote: \(branch)"], in: work)
        git(["push", "-q", url, branch], in: work)
        git(["checkout", "-q", "main"], in: work)
        git(["merge", "-q", "--no-ff", "-m", "Merge \(branch)", branch], in: work)
        let push = git(["push", "-q", url, "main"], in: work)
        #expect(push.status == 0, "git push: \(push.stderr)")
    }

    func close() {
        daemon.stop()
        dir.remove()
    }
}
