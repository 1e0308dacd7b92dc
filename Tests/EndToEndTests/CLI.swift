import Foundation
import MregTestSupport
import Testing

/// The built `mreg` binary, beside the test bundle in the build folder.
let mregBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = (exe as NSString).deletingLastPathComponent
    while !dir.isEmpty && dir != "/" {
        if FileManager.default.isExecutableFile(atPath: dir + "/mreg") { return dir + "/mreg" }
        dir = (dir as NSString).deletingLastPathComponent
    }
    return "mreg-binary-not-built"
}()

/// Runs the built `mreg` in `cwd` with the test identity.
@discardableResult
func mreg(_ arguments: [String], in cwd: String, environment: [String: String] = [:]) -> RunResult {
    var env = testEnvironment
    env["MREG_REGISTRY"] = ""
    for (k, v) in environment { env[k] = v }
    return run(mregBinary, arguments, cwd: cwd, environment: env)
}

extension RunResult {
    /// stderr is one line starting `mreg: error:`.
    var isOneLineError: Bool {
        stderr.hasPrefix("mreg: error: ") && stderr.filter { $0 == "\n" }.count == 1
    }
}
