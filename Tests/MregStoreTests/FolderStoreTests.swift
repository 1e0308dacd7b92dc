import Foundation
import MregCore
import MregTestSupport
import Testing

@testable import MregStore

@Suite struct FolderStoreTests {
    private func store(_ dir: TempDir) -> ContentStore {
        try! FileManager.default.createDirectory(atPath: dir.sub("store"), withIntermediateDirectories: true)
        return ContentStore(config: StoreConfig(location: .folder(path: dir.sub("store"))), backend: FolderStore(root: dir.sub("store")))
    }

    @Test func putsOnceFetchesVerified() async throws {
        let dir = TempDir("mreg-folder")
        defer { dir.remove() }
        let s = store(dir)
        let sha = makeFile(dir.sub("model.bin"), size: 3 << 20)
        #expect(try await s.put(file: dir.sub("model.bin"), sha256: sha, size: 3 << 20))
        #expect(try await !s.put(file: dir.sub("model.bin"), sha256: sha, size: 3 << 20), "a present object is not sent again")
        let object = dir.sub("store/sha256/\(sha.prefix(2))/\(sha)")
        #expect(sha256Hex(of: object) == sha)
        #expect(try FileManager.default.attributesOfItem(atPath: object)[.posixPermissions] as? Int == 0o444)
        try await s.fetch(sha256: sha, size: 3 << 20, to: dir.sub("out.bin"))
        #expect(sha256Hex(of: dir.sub("out.bin")) == sha)
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out.bin.partial")))
        try await s.verify(sha256: sha, size: 3 << 20, deep: true, scratch: dir.path)
        #expect(try await s.contentObjects() == [sha: 3 << 20])
    }

    @Test func versionViewHoldsEveryFile() async throws {
        let dir = TempDir("mreg-folder")
        defer { dir.remove() }
        let s = store(dir)
        let big = makeFile(dir.sub("weights.bin"), size: 2 << 20)
        try "{}".write(toFile: dir.sub("model.json"), atomically: true, encoding: .utf8)
        try await s.put(file: dir.sub("weights.bin"), sha256: big, size: 2 << 20)
        try await s.putVersionView(model: "penguins", version: "v3", files: [
            ViewFile(path: "nested/weights.bin", size: 2 << 20, sha256: big, localPath: nil),
            ViewFile(path: "model.json", size: 2, sha256: SHA256.hex(Data("{}".utf8)), localPath: dir.sub("model.json")),
        ])
        let uri = s.config.versionURI(model: "penguins", version: "v3")
        #expect(uri == "file://" + dir.sub("store/models/penguins/v3/"))
        let view = String(uri.dropFirst("file://".count))
        #expect(sha256Hex(of: view + "nested/weights.bin") == big)
        #expect(try String(contentsOfFile: view + "model.json", encoding: .utf8) == "{}")
        // Writing the view again changes nothing and fails nothing.
        try await s.putVersionView(model: "penguins", version: "v3", files: [ViewFile(path: "model.json", size: 2, sha256: "", localPath: dir.sub("model.json"))])
    }

    @Test func deletedCorruptAndMissingStoresFailClearly() async throws {
        let dir = TempDir("mreg-folder")
        defer { dir.remove() }
        let s = store(dir)
        let sha = makeFile(dir.sub("a.bin"), size: 4096)
        try await s.put(file: dir.sub("a.bin"), sha256: sha, size: 4096)
        let object = dir.sub("store/sha256/\(sha.prefix(2))/\(sha)")

        // Corrupted behind mreg's back, same size: the fetch refuses and leaves nothing.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: object)
        _ = makeFile(object, size: 4096, seed: 99)
        await #expect(throws: ArtifactStoreError.corrupt(store: s.backend.name, key: "sha256/\(sha.prefix(2))/\(sha)",
                                                 message: "its bytes hash to \(sha256Hex(of: object).prefix(12))…, not to its name")) {
            try await s.fetch(sha256: sha, size: 4096, to: dir.sub("out.bin"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out.bin")))
        #expect(!FileManager.default.fileExists(atPath: dir.sub("out.bin.partial")))
        try await s.verify(sha256: sha, size: 4096, deep: false, scratch: dir.path)
        await #expect(throws: ArtifactStoreError.self) { try await s.verify(sha256: sha, size: 4096, deep: true, scratch: dir.path) }

        // Deleted behind mreg's back.
        try FileManager.default.removeItem(atPath: object)
        do {
            try await s.verify(sha256: sha, size: 4096, deep: false, scratch: dir.path)
            Issue.record("verified a deleted object")
        } catch {
            #expect(error.description == "object 'sha256/\(sha.prefix(2))/\(sha)' is not in the store 'file://\(dir.sub("store"))'")
        }
        await #expect(throws: ArtifactStoreError.missing(store: s.backend.name, key: "sha256/\(sha.prefix(2))/\(sha)")) {
            try await s.fetch(sha256: sha, size: 4096, to: dir.sub("out.bin"))
        }

        // A store folder that is not there (an unmounted share) is not an empty store.
        let gone = ContentStore(config: StoreConfig(location: .folder(path: dir.sub("nope"))), backend: FolderStore(root: dir.sub("nope")))
        do {
            _ = try await gone.put(file: dir.sub("a.bin"), sha256: sha, size: 4096)
            Issue.record("wrote into a missing store folder")
        } catch {
            #expect(error.description == "the store 'file://\(dir.sub("nope"))' cannot be used: folder '\(dir.sub("nope"))' does not exist")
        }
    }
}
