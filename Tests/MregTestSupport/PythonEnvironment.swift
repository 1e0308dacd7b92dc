import Foundation
import MregCore

/// A Python virtual environment made from one requirements file of the repository, for tests that
/// talk to Python tools (parity with xgboost/lightgbm, an S3 server, MLServer, tritonclient, schema checks).
///
/// It lives outside the repository in `${XDG_CACHE_HOME:-$HOME/.cache}/mreg-test-venvs/<sha256 of the
/// requirements file>`, so it is made once per machine and remade when the requirements change. It is
/// built in a temporary folder beside it and renamed into place, so concurrent test runs never see a
/// half-installed one. `MREG_TEST_PYTHON` names an interpreter to use instead (for every environment).
/// Declare one per requirements file as a `static let`, so it is made at most once per test process.
public struct PythonVenv: Sendable {
    /// The requirements file, relative to the repository root.
    public let requirements: String
    /// The interpreter of the environment, or why there is none (no python3, no network, pip failed).
    public let interpreter: Result<String, SetupFailure>

    public init(requirements: String) {
        self.requirements = requirements
        self.interpreter = PythonVenv.make(requirements)
    }

    /// Why the environment could not be made; tests that need it are skipped with this message.
    public struct SetupFailure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Whether the environment is usable; for `.enabled(if:)` traits.
    public var available: Bool {
        if case .success = interpreter { return true }
        return false
    }

    /// The message a skipped test shows.
    public var unavailableReason: String {
        if case .failure(let f) = interpreter { return "python environment of \(requirements) unavailable: \(f.description)" }
        return ""
    }

    /// The folder of the environment's executables (`moto_server`, `mlserver`, …), when there is one.
    public var binFolder: String? {
        guard case .success(let python) = interpreter else { return nil }
        return URL(fileURLWithPath: python).deletingLastPathComponent().path
    }

    /// Runs a script of the repository (path relative to its root) with the environment's interpreter.
    public func runScript(_ relative: String, _ arguments: [String]) -> RunResult {
        switch interpreter {
        case .failure(let f): return RunResult(status: -1, stdout: "", stderr: f.description)
        case .success(let python):
            return run(python, [PythonEnvironment.repositoryRoot.appendingPathComponent(relative).path] + arguments)
        }
    }

    static func make(_ requirementsFile: String) -> Result<String, SetupFailure> {
        if let python = ProcessInfo.processInfo.environment["MREG_TEST_PYTHON"], !python.isEmpty { return .success(python) }
        let requirements = PythonEnvironment.repositoryRoot.appendingPathComponent(requirementsFile)
        guard let data = try? Data(contentsOf: requirements) else {
            return .failure(SetupFailure(description: "cannot read \(requirements.path)"))
        }
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        let folder = cache + "/mreg-test-venvs/" + SHA256.hex(data)
        let python = folder + "/bin/python"
        if FileManager.default.isExecutableFile(atPath: python) { return .success(python) }
        try? FileManager.default.createDirectory(atPath: cache + "/mreg-test-venvs", withIntermediateDirectories: true)
        let staging = folder + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        let venv = run("python3", ["-m", "venv", staging])
        guard venv.status == 0 else {
            return .failure(SetupFailure(description: "python3 -m venv failed: \(venv.stderr.suffix(300))"))
        }
        let pip = run(staging + "/bin/python", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                                "-r", requirements.path])
        guard pip.status == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            return .failure(SetupFailure(description: "pip install failed: \(pip.stderr.suffix(300))"))
        }
        // Another run may have finished first; either copy is complete.
        if (try? FileManager.default.moveItem(atPath: staging, toPath: folder)) == nil {
            try? FileManager.default.removeItem(atPath: staging)
        }
        return FileManager.default.isExecutableFile(atPath: python)
            ? .success(python) : .failure(SetupFailure(description: "\(python) is missing after setup"))
    }
}

/// The parity environment of `Tests/requirements-ml.txt` (xgboost, lightgbm, scikit-learn).
public enum PythonEnvironment {
    /// The repository root (two levels above this file's folder).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public typealias SetupFailure = PythonVenv.SetupFailure
    public static let ml = PythonVenv(requirements: "Tests/requirements-ml.txt")
    public static var interpreter: Result<String, SetupFailure> { ml.interpreter }
    public static var available: Bool { ml.available }
    public static var unavailableReason: String { ml.unavailableReason }
    public static func runScript(_ relative: String, _ arguments: [String]) -> RunResult { ml.runScript(relative, arguments) }
}
