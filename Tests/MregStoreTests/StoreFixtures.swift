import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import MregCore
import MregTestSupport

@testable import MregStore

/// A file of `size` deterministic bytes and its sha256.
func makeFile(_ path: String, size: Int, seed: UInt8 = 7) -> String {
    var bytes = [UInt8](repeating: 0, count: size)
    var x = UInt32(seed) &+ 1
    for i in 0..<size {
        x = x &* 1_664_525 &+ 1_013_904_223
        bytes[i] = UInt8(truncatingIfNeeded: x >> 24)
    }
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return sha256Hex(of: path)
}

func sha256Hex(of path: String) -> String {
    SHA256.hex(FileManager.default.contents(atPath: path) ?? Data())
}

/// A moto S3 server on 127.0.0.1, started for one test and killed after it.
final class MotoServer: @unchecked Sendable {
    static let venv = PythonVenv(requirements: "Tests/requirements-s3.txt")
    let port: Int
    let process: Process
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the server; `enforceAuth` makes it refuse every access key it does not know.
    init(enforceAuth: Bool = false) throws {
        guard case .success(let python) = MotoServer.venv.interpreter else { throw ArtifactStoreError.unusable(store: "moto", message: "no python") }
        port = freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        // `python -m moto.server`, not the `moto_server` script: a venv renamed into place keeps
        // its scripts' first line pointing at the staging folder.
        process.arguments = ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        var env = ProcessInfo.processInfo.environment
        if enforceAuth { env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0" }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !accepts(port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw ArtifactStoreError.unusable(store: "moto", message: "did not start listening on \(port)")
            }
            usleep(50_000)
        }
    }

    /// Creates a bucket (moto accepts an unsigned request while it does not enforce auth).
    func createBucket(_ name: String) async throws {
        var request = URLRequest(url: URL(string: "\(endpoint)/\(name)")!)
        request.httpMethod = "PUT"
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw ArtifactStoreError.unusable(store: "moto", message: "bucket not created") }
    }

    /// SIGKILL: moto's server does not end on SIGTERM.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

let motoCredentials = ["AWS_ACCESS_KEY_ID": "AKIDTESTMOTO", "AWS_SECRET_ACCESS_KEY": "very-secret-test-key", "HOME": "/nonexistent"]
