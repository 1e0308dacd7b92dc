import Foundation
import MregCore
import MregGit
import MregTestSupport
import Testing

@testable import MregRegistry

/// The caches under `<git dir>/mreg/` are derived data: whatever happens to them (flipped bits, a
/// FIFO in their place), `history` and `list` give the answer they give without them.
@Suite struct CacheDamageTests {
    /// A registry with a few commits across two models and the answers computed without caches.
    struct Fixture {
        let dir: TempDir
        let registry: Registry
        var mreg: String { dir.sub(".git/mreg") }

        init() throws {
            dir = TempDir("reg-cache")
            registry = try makeRegistry(dir)
            for i in 0..<9 {
                _ = try registry.register(model: i % 3 == 0 ? "a" : "b", content: content(["model.bin": "\(i)"], metrics: ["accuracy": Double(i) / 10]),
                                          message: nil)
            }
        }

        /// Everything `history`, `list` and `list MODEL` print, as text, from a fresh `Registry` (a
        /// used one keeps its change index in memory and would not read the file again).
        func answers() throws -> [String] {
            let registry = try Registry.discover(explicit: dir.path, environment: testEnvironment)
            var out = [String]()
            for model in ["a", "b"] {
                out += try registry.history(model).map { "\($0)" }
                out += try registry.listVersions(model).map { "\($0)" }
            }
            out += try registry.listModels().map { "\($0)" }
            return out
        }

        func uncached() throws -> [String] {
            try? FileManager.default.removeItem(atPath: mreg)
            return try answers()
        }

        func file(_ prefix: String) throws -> String {
            let names = try FileManager.default.contentsOfDirectory(atPath: mreg).filter { $0.hasPrefix(prefix) && !$0.contains(".tmp") }
            #expect(names.count == 1, "\(names)")
            return mreg + "/" + names[0]
        }
    }

    @Test(arguments: ["changes-", "summaries"])
    func aCacheWithFlippedBitsIsRebuiltNotBelieved(_ prefix: String) throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let expected = try f.uncached()
        #expect(try f.answers() == expected)  // warm
        let path = try f.file(prefix)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var flips = 0
        // Every third byte, a different bit each time.
        for i in stride(from: 0, to: original.count, by: 3) {
            var damaged = original
            damaged[i] ^= 1 << UInt8(i % 8)
            try damaged.write(to: URL(fileURLWithPath: path))
            let got = try f.answers()
            #expect(got == expected, "bit \(i % 8) of byte \(i) flipped")
            if got != expected { break }
            flips += 1
        }
        #expect(flips > 20)
    }

    @Test(.timeLimit(.minutes(1)))
    func aFIFOInPlaceOfACacheIsIgnored() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let expected = try f.uncached()
        let changes = try f.file("changes-")
        let summaries = try f.file("summaries")
        for path in [changes, summaries] {
            unlink(path)
            #expect(mkfifo(path, 0o644) == 0)
        }
        // Before, opening the FIFO waited forever for a writer.
        #expect(try f.answers() == expected)
        for path in [changes, summaries] {
            var st = stat()
            #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "\(path) was not rebuilt as a regular file")
        }
        #expect(try f.answers() == expected)
    }
}
