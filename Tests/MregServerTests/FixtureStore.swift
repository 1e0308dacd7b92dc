import Foundation
import Testing

/// Writes a store for scripts (scripts/bench/serve.sh) when MREG_FIXTURE_STORE names a folder:
/// penguins v1 and v2 (logistic), mass v1 (linear), trained here with MregML. Does nothing otherwise.
@Test func writeFixtureStore() throws {
    guard let dir = ProcessInfo.processInfo.environment["MREG_FIXTURE_STORE"], !dir.isEmpty else { return }
    for (model, version, outcome) in [("penguins", "v1", Models.species), ("penguins", "v2", Models.speciesV2), ("mass", "v1", Models.mass)] {
        let folder = dir + "/" + model + "/" + version
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try outcome.artifact.encoded().write(to: URL(fileURLWithPath: folder + "/model.json"))
    }
    try Data(#"{"schema": 1, "version": "v1"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/penguins/serving.json"))
}
