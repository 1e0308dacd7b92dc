import Foundation
import MregTestSupport
import Testing

/// The README's tour runs as written, top to bottom.
@Suite struct ReadmeTests {
    static let root: String = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.path + "/Package.swift") { dir.deleteLastPathComponent() }
        return dir.path
    }()

    /// The first ```sh block after `heading`.
    static func block(after heading: String) throws -> String {
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: heading))
        let open = try #require(readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "\n```", range: open.upperBound..<readme.endIndex))
        return String(readme[open.upperBound..<close.lowerBound])
    }

    @Test func theTourRunsAsWritten() throws {
        var script = try ReadmeTests.block(after: "## A short tour")
        // The tour puts the build quickstart.sh made on PATH; here the binary under test stands in for it.
        let export = "export PATH=\"$PWD/.build/debug:$PATH\"\n"
        #expect(script.hasPrefix(export))
        script = "export PATH=\"\((mregBinary as NSString).deletingLastPathComponent):$PATH\"\n" + script.dropFirst(export.count)
        let before = git(["status", "--porcelain"], in: ReadmeTests.root).stdout
        var env = testEnvironment
        env["MREG_REGISTRY"] = ""
        let r = run("/bin/bash", ["-euo", "pipefail", "-c", script], cwd: ReadmeTests.root, environment: env)
        #expect(r.status == 0, "\(r.stdout.suffix(3000))\n\(r.stderr.suffix(2000))")
        #expect(r.stdout.contains("Roll back penguins in staging to v1"))
        // Everything happened in the tour's own folder: the clone is as it was.
        #expect(git(["status", "--porcelain"], in: ReadmeTests.root).stdout == before)
    }
}
