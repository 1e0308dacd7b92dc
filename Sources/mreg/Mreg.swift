import ArgumentParser
import Foundation
import MregCore
import MregGit
import MregML
import MregRegistry
import MregStore
import MregUI

@main
struct Mreg: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mreg",
        abstract: "A GitOps model registry: Git is the database, pull requests are approvals.",
        discussion: """
            Exit codes: 0 success, 1 a gate or check failed, 2 a usage or input error,
            3 too little data to judge (mreg monitor).
            The registry is the nearest folder holding mreg.yaml at or above the current one;
            --registry PATH or MREG_REGISTRY choose another.
            """,
        version: version,
        subcommands: [
            Quickstart.self, Init.self, Train.self, Register.self, Card.self, Evaluate.self, List.self, Show.self, History.self,
            Diff.self, Verify.self, Predict.self, Promote.self, Rollback.self, Status.self, Pipeline.self, Serve.self, Monitor.self,
            Reconcile.self, Render.self, UI.self, StoreCommand.self,
        ]
    )

    /// Runs the command line; maps errors to one line on stderr and the documented exit codes.
    /// Under `--json` a failure is also a JSON document on stdout (`{"error": ..., "exitCode": ...}`),
    /// unless the command already printed its report there.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.prefix { $0 != "--" }.contains("--json")
        func fail(_ message: String, _ code: Int32) -> Never {
            printError(message)
            if json { printJSON(["error": .string(message.split(separator: "\n").joined(separator: "; ")), "exitCode": .number(Double(code))]) }
            Foundation.exit(code)
        }
        do {
            var command = try parseAsRoot(defaultingOptionalValues(arguments))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failed as CheckFailed {
            if let message = failed.message { printError(message) }
            Foundation.exit(1)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as RegistryError {
            fail(error.description, 2)
        } catch let error as GitError {
            fail(error.description, 2)
        } catch let error as CoreError {
            fail(error.description, 2)
        } catch let error as MLError {
            fail(error.description, 2)
        } catch let error as UIError {
            fail(error.description, 2)
        } catch let error as ArtifactStoreError {
            fail(error.description, 2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            fail(message(for: error).replacingOccurrences(of: "Error: ", with: "").lowercasedFirst, 2)
        }
    }
}

/// Runs async work from a synchronous command and waits for it.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, Error>?
    _Concurrency.Task {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}

/// `--push` may stand without a value (then: `origin`): give it one when the next word is an
/// option or there is none, so the parser sees an ordinary option.
func defaultingOptionalValues(_ arguments: [String]) -> [String] {
    var out = [String]()
    var i = 0
    while i < arguments.count {
        out.append(arguments[i])
        if arguments[i] == "--" {
            out += arguments[(i + 1)...]
            break
        }
        if arguments[i] == "--push", i + 1 == arguments.count || arguments[i + 1].hasPrefix("-") {
            out.append("origin")
        }
        i += 1
    }
    return out
}

/// A check (verify, evaluate, monitor, a refused promotion) ran and failed: exit 1 after printing
/// its report (under `--json`, the report is the JSON document on stdout).
struct CheckFailed: Error {
    var message: String?
}

/// Options every registry command takes.
struct RegistryOptions: ParsableArguments {
    @Option(name: .long, help: "The registry folder (or a bare repository); default: the nearest mreg.yaml above the current folder, or MREG_REGISTRY.")
    var registry: String?

    func open() throws -> Registry {
        let env = ProcessInfo.processInfo.environment
        return try Registry.discover(explicit: registry ?? env["MREG_REGISTRY"].flatMap { $0.isEmpty ? nil : $0 })
    }
}

func printError(_ message: String) {
    let line = message.split(separator: "\n").joined(separator: "; ")
    FileHandle.standardError.write(Data("mreg: error: \(line)\n".utf8))
}

/// Prints a JSON document canonically (sorted keys, two-space indentation).
func printJSON(_ value: JSONValue) {
    FileHandle.standardOutput.write(value.encoded(pretty: true))
}

extension String {
    var lowercasedFirst: String { isEmpty ? self : prefix(1).lowercased() + dropFirst() }
}

/// Left-aligned columns separated by two spaces.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            out += i == cells.count - 1 ? cell : cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0)
        }
        return out
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// A metric value for people: four decimals.
func fmt(_ d: Double) -> String { String(format: "%.4f", d) }

/// `2026-11-22 18:04` (UTC) from seconds since 1970.
func dateText(_ seconds: Int64) -> String {
    var t = time_t(seconds)
    var parts = tm()
    gmtime_r(&t, &parts)
    return String(format: "%04d-%02d-%02d %02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min)
}

extension Deployment {
    /// `v3` or `v3 (+v4 10%)`.
    var text: String { version + (canary.map { " (+\($0.version) \($0.weight)%)" } ?? "") }

    var json: JSONValue {
        var o: [String: JSONValue] = ["version": .string(version)]
        if let c = canary { o["canary"] = ["version": .string(c.version), "weight": .number(Double(c.weight))] }
        if let h = hosts { o["hosts"] = .array(h.map(JSONValue.string)) }
        return .object(o)
    }
}

/// Prints a report canonically (sorted keys, two-space indentation), as `printJSON` does.
func printReport<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}
