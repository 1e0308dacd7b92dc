import Foundation
import MregCore
import MregGit
import MregTestSupport

@testable import MregRegistry

/// A fresh registry in a temporary folder, with the test identity.
func makeRegistry(_ dir: TempDir, name: String = "demo") throws -> Registry {
    _ = try Registry.initialize(at: dir.path, name: name, environment: testEnvironment, cwd: "/")
    // Artifact folders live in .art/, which Git is told to ignore.
    try Data(".art/\n".utf8).write(to: URL(fileURLWithPath: dir.sub(".git/info/exclude")))
    return try Registry.discover(explicit: dir.path, environment: testEnvironment)
}

/// A folder of artifact files to register.
func artifactFolder(_ dir: TempDir, _ files: [String: String], name: String = "art") -> String {
    let root = dir.sub(".art/" + name)
    try? FileManager.default.removeItem(atPath: root)
    try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    for (path, text) in files { dir.write(".art/" + name + "/" + path, text) }
    return root
}

func content(_ files: [String: String], metrics: [String: Double]? = nil) -> VersionContent {
    VersionContent(
        files: files.mapValues { Data($0.utf8) }, metrics: metrics.map { MetricsFile(splits: ["test": $0]) })
}
