import Foundation
import MregTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not
/// export: closes every descriptor from `fd` up in the child, after the fork, so nothing races it.
private let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        return { _, _ in -1 }
    }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// A server process started by a test; `stop()` kills it and waits for it.
///
/// Started with posix_spawn rather than Foundation's `Process`: servers such as sshd close the
/// descriptors they inherit, which makes `Process` think they exited and block in `waitpid`,
/// stalling every other `Process` in the test run. The child gets only stdin (a pipe it can watch
/// to notice that the test is gone) and /dev/null for output.
final class ServerProcess: @unchecked Sendable {
    let pid: pid_t
    let port: Int
    private let stdinWriter: Int32

    enum Failure: Error { case didNotStart(String) }

    /// Starts `program` and waits (up to 10 s) until `port` accepts connections.
    init(_ program: String, _ arguments: [String], port: Int, environment: [String: String] = [:]) throws {
        self.port = port
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Failure.didNotStart("pipe") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        stdinWriter = fds[1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Nothing else leaks into the server: a pipe that another test's `Process` is creating at this
        // moment would otherwise stay open in the server and keep that test waiting for EOF.
        guard closeFrom(&actions, 3) == 0 else { throw Failure.didNotStart("posix_spawn_file_actions_addclosefrom_np") }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, program, &actions, nil, argv, envp)
        close(fds[0])
        guard result == 0 else {
            close(fds[1])
            throw Failure.didNotStart("\(program): \(String(cString: strerror(result)))")
        }
        pid = child
        let deadline = Date().addingTimeInterval(10)
        while !accepts(port) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid || Date() > deadline {
                stop()
                throw Failure.didNotStart("\(program) on port \(port)")
            }
            usleep(20_000)
        }
    }

    func stop() {
        close(stdinWriter)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

/// `git daemon` serving the bare repositories below `root` on 127.0.0.1, pushes allowed.
func startGitDaemon(root: String) throws -> ServerProcess {
    let port = freePort()
    return try ServerProcess(
        "/usr/bin/git",
        ["daemon", "--export-all", "--enable=receive-pack", "--base-path=\(root)", "--port=\(port)", "--reuseaddr",
         "--listen=127.0.0.1", "--informative-errors", root],
        port: port, environment: ["GIT_CONFIG_NOSYSTEM": "1"])
}

/// `git http-backend` behind scripts/testing/git_http_server.py on 127.0.0.1, optionally with Basic auth.
func startHTTPServer(root: String, token: String? = nil) throws -> ServerProcess {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/testing/git_http_server.py").path
    let port = freePort()
    var arguments = [script, "--root", root, "--port", "\(port)", "--lifetime", "120"]
    if let token { arguments += ["--token", token] }
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    return try ServerProcess(python ?? "/usr/bin/env", python == nil ? ["python3"] + arguments : arguments, port: port)
}

/// An sshd on 127.0.0.1 that lets `clientKey` in as the current user; nil when sshd is not installed.
struct SSHServer {
    let server: ServerProcess
    let clientKey: String
    /// A known_hosts line for this server's host key.
    let knownHostsLine: String
    var port: Int { server.port }

    static func start(in dir: TempDir) throws -> SSHServer? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else { return nil }
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        for key in ["hostkey", "client", "stranger"] {
                let r = run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", dir.sub(key)])
            guard r.status == 0 else { return nil }
        }
        try FileManager.default.copyItem(atPath: dir.sub("client.pub"), toPath: dir.sub("authorized_keys"))
        let port = freePort()
        let config = dir.write(
            "sshd_config",
            """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir.sub("hostkey"))
            AuthorizedKeysFile \(dir.sub("authorized_keys"))
            PidFile none
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PubkeyAuthentication yes
            PermitRootLogin prohibit-password
            LogLevel ERROR

            """)
        let server = try ServerProcess("/usr/sbin/sshd", ["-D", "-e", "-f", config], port: port)
        let hostKey = try String(contentsOfFile: dir.sub("hostkey.pub"), encoding: .utf8).split(separator: " ")
        return SSHServer(
            server: server, clientKey: dir.sub("client"), knownHostsLine: "[127.0.0.1]:\(port) \(hostKey[0]) \(hostKey[1])")
    }
}
