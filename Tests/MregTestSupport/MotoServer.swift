import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A moto S3 server on 127.0.0.1, started for one test and killed after it.
public final class MotoServer: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static let venv = PythonVenv(requirements: "Tests/requirements-s3.txt")
    public let port: Int
    let process: Process
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the server; `enforceAuth` makes it refuse every access key it does not know.
    public init(enforceAuth: Bool = false) throws {
        guard case .success(let python) = MotoServer.venv.interpreter else { throw Failure(description: MotoServer.venv.unavailableReason) }
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
                throw Failure(description: "moto did not start listening on \(port)")
            }
            usleep(50_000)
        }
    }

    /// Creates a bucket (moto accepts an unsigned request while it does not enforce auth).
    public func createBucket(_ name: String) async throws {
        var request = URLRequest(url: URL(string: "\(endpoint)/\(name)")!)
        request.httpMethod = "PUT"
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw Failure(description: "bucket '\(name)' not created") }
    }

    /// SIGKILL: moto's server does not end on SIGTERM.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

