import Foundation

/// A temporary folder removed when the value is dropped by `remove()`.
public struct TempDir: Sendable {
    public let path: String

    public init(_ label: String = "mreg") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/" + label + "-" + UUID().uuidString.prefix(8).lowercased()
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func sub(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes text to a file below this folder, creating folders as needed.
    @discardableResult
    public func write(_ relative: String, _ text: String) -> String {
        let full = sub(relative)
        try! FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: full))
        return full
    }
}

/// The result of running a program.
public struct RunResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// A fixed identity and clock for commits made in tests, so ids are reproducible.
public let testEnvironment: [String: String] = [
    "GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
]

/// Runs a program and waits for it; `environment` entries are added to this process's environment.
@discardableResult
public func run(
    _ program: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:],
    stdin: Data? = nil
) -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
    process.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    do {
        try process.run()
    } catch {
        return RunResult(status: -1, stdout: "", stderr: "cannot run \(program): \(error)")
    }
    // Drain both pipes on their own threads while the program runs (so a chatty program cannot
    // block on a full pipe) and wait for both to reach end of file: nothing it wrote is lost.
    let outData = LockedData(), errData = LockedData()
    let drained = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        drained.enter()
        DispatchQueue.global().async {
            sink.append(pipe.fileHandleForReading.readDataToEndOfFile())
            drained.leave()
        }
    }
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
    drained.wait()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
        stderr: String(decoding: errData.data, as: UTF8.self))
}

/// Runs `git` with the test identity; returns stdout trimmed of its final newline.
@discardableResult
public func git(_ arguments: [String], in dir: String, environment: [String: String] = [:]) -> RunResult {
    var env = testEnvironment
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    for (k, v) in environment { env[k] = v }
    var r = run("git", ["-c", "init.defaultBranch=main", "-c", "user.name=Ada Tester", "-c", "user.email=ada@example.com"] + arguments, cwd: dir, environment: env)
    if r.stdout.hasSuffix("\n") { r.stdout.removeLast() }
    return r
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = Data()
    func append(_ d: Data) {
        lock.lock()
        buffer.append(d)
        lock.unlock()
    }
    var data: Data {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}
