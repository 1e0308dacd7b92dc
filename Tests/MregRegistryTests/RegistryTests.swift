import Foundation
import MregCore
import MregGit
import MregTestSupport
import Testing

@testable import MregRegistry

@Suite struct InitTests {
    @Test func initCreatesACleanCommittedRegistry() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let result = try Registry.initialize(at: dir.path, name: "Fraud models", environment: testEnvironment, cwd: "/")
        #expect(result.files == ["README.md", "deploy/production.yaml", "deploy/staging.yaml", "mreg.yaml"])
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
        #expect(git(["fsck", "--strict"], in: dir.path).status == 0)
        #expect(git(["log", "--format=%s"], in: dir.path).stdout == "Initialize registry Fraud models")
        #expect(git(["rev-parse", "--abbrev-ref", "HEAD"], in: dir.path).stdout == "main")
        let registry = try Registry.discover(explicit: dir.path, environment: testEnvironment)
        let config = try registry.head().config()
        var expected = RegistryConfig.defaults(name: "Fraud models")
        expected.monitoring = config.monitoring
        #expect(config == expected)
        #expect(try registry.head().manifest("production") == Manifest(environment: "production"))
        // A second init refuses and changes nothing.
        #expect(throws: RegistryError.alreadyRegistry(dir.path)) {
            try Registry.initialize(at: dir.path, name: nil, environment: testEnvironment, cwd: "/")
        }
        #expect(git(["rev-list", "--count", "HEAD"], in: dir.path).stdout == "1")
    }

    @Test func registryInASubfolderOfALargerRepository() throws {
        let dir = TempDir("mono")
        defer { dir.remove() }
        git(["init", "-q"], in: dir.path)
        dir.write("service/main.go", "package main\n")
        git(["add", "."], in: dir.path)
        git(["commit", "-qm", "code"], in: dir.path)
        let before = git(["rev-parse", "HEAD"], in: dir.path).stdout
        // Inside another repository's work tree nothing is committed unless the user says how.
        #expect {
            try Registry.initialize(at: "ml/registry", name: "mono", environment: testEnvironment, cwd: dir.path)
        } throws: { error in
            "\(error)".contains("inside the Git repository at '\(Registry.realPathForTests(dir.path))'") && "\(error)".contains("--subfolder")
        }
        #expect(git(["rev-parse", "HEAD"], in: dir.path).stdout == before)
        #expect(!FileManager.default.fileExists(atPath: dir.sub("ml")))
        let made = try Registry.initialize(
            at: "ml/registry", name: "mono", ciFiles: try Registry.ciFiles("github"), placement: .subfolder,
            environment: testEnvironment, cwd: dir.path)
        // CI files go to the repository's root, where hosts run them, and work in the folder.
        #expect(made.files.contains(".github/workflows/mreg.yml"))
        #expect(made.files.contains("ml/registry/mreg.yaml"))
        #expect(try String(contentsOfFile: dir.sub(".github/workflows/mreg.yml"), encoding: .utf8).contains("MREG_REGISTRY: \"ml/registry\""))
        let registry = try Registry.discover(cwd: dir.sub("ml/registry/deploy"), environment: testEnvironment)
        #expect(registry.prefix == "ml/registry/")
        let reg = try registry.register(model: "m", content: content(["model.bin": "{}"]), message: nil)
        #expect(reg.version == "v1")
        let files = git(["show", "--name-only", "--format=", "HEAD"], in: dir.path).stdout.split(separator: "\n")
        #expect(files.allSatisfy { $0.hasPrefix("ml/registry/") })
        #expect(files.contains("ml/registry/models/m/v1/version.yaml"))
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
        #expect(FileManager.default.fileExists(atPath: dir.sub("ml/registry/models/m/v1/model.bin")))
        #expect(try registry.listModels().map(\.name) == ["m"])
    }

    @Test func discoveryErrors() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        #expect(throws: RegistryError.self) { try Registry.discover(cwd: dir.path, environment: testEnvironment) }
        #expect(throws: RegistryError.self) { try Registry.discover(explicit: dir.sub("missing"), environment: testEnvironment) }
        dir.write("mreg.yaml", "schemaVersion: 1\nname: x\n")
        // mreg.yaml on disk but no repository.
        #expect(throws: RegistryError.self) { try Registry.discover(cwd: dir.path, environment: testEnvironment) }
    }
}

@Suite struct RegisterTests {
    @Test func registersVersionsWithChecksumsInOneCommitEach() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let art = artifactFolder(dir, ["model.bin": "{\"w\": [1, 2]}\n", "extra/vocab.txt": "a\nb\n", "metrics.json": "{\"accuracy\": 0.91}"])
        let r1 = try registry.register(model: "penguins", content: try VersionContent.read(folder: art), message: "first try")
        let r2 = try registry.register(model: "penguins", content: try VersionContent.read(folder: art), message: nil)
        #expect([r1.version, r2.version] == ["v1", "v2"])
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
        #expect(git(["fsck", "--strict"], in: dir.path).status == 0)
        #expect(git(["log", "-1", "--format=%B", r1.commit.hex], in: dir.path).stdout
            == "Register penguins v1\n\nfirst try\n\nMreg-Model: penguins\nMreg-Version: v1\n")
        let changed = git(["show", "--name-only", "--format=", r2.commit.hex], in: dir.path).stdout
        #expect(changed == "models/penguins/v2/card.md\nmodels/penguins/v2/extra/vocab.txt\nmodels/penguins/v2/metrics.json\nmodels/penguins/v2/model.bin\nmodels/penguins/v2/version.yaml")
        let record = try registry.head().versionRecord("penguins", "v1")
        #expect(record.files.map(\.path) == ["extra/vocab.txt", "metrics.json", "model.bin"])
        for file in record.files {
            let sum = run("sha256sum", [dir.sub("models/penguins/v1/" + file.path)]).stdout.prefix(64)
            #expect(file.sha256 == String(sum))
        }
        #expect(record.author == "Ada Tester <ada@example.com>")
        #expect(record.created == "2023-11-14T22:13:20Z")
        #expect(try registry.head().metrics("penguins", "v1")?.splits == ["test": ["accuracy": 0.91]])
        #expect(try registry.head().card("penguins", "v1")?.missingFields == ["owner", "intended_use", "limitations", "license"])
        #expect(try registry.verify().ok)
    }

    @Test func hostileFoldersAreRefusedAndNothingIsCommitted() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        let tip = try registry.repository.referenceTarget("refs/heads/main")
        let outside = dir.write(".art/secret.txt", "secret")
        var cases = [(String, String)]()
        let withLink = artifactFolder(dir, ["model.bin": "{}"], name: "link")
        try FileManager.default.createSymbolicLink(atPath: withLink + "/leak", withDestinationPath: outside)
        cases.append((withLink, "is a symbolic link"))
        cases.append((artifactFolder(dir, ["model.bin": "{}", "version.yaml": "x"], name: "vy"), "version.yaml is written by mreg"))
        cases.append((artifactFolder(dir, ["bad name.json": "{}"], name: "sp"), "file names may use"))
        cases.append((artifactFolder(dir, [:], name: "empty"), "holds no artifact files"))
        cases.append((artifactFolder(dir, ["model.bin": "{}", "metrics.json": "{\"accuracy\": 0.9"], name: "trunc"), "invalid JSON"))
        cases.append((artifactFolder(dir, ["model.bin": "{}", "metrics.json": "{\"schemaVersion\": 2, \"splits\": {}}"], name: "schema"), "schemaVersion"))
        cases.append((artifactFolder(dir, ["model.bin": "{}", "card.md": "no front matter"], name: "card"), "front matter"))
        cases.append((dir.sub("does-not-exist"), "is not a folder"))
        for (folder, expected) in cases {
            do {
                let c = try VersionContent.read(folder: folder)
                _ = try registry.register(model: "m", content: c, message: nil)
                Issue.record("registered \(folder)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        for bad in ["../evil", "Evil", "", "a/b", ".hidden"] {
            #expect(throws: CoreError.self) { try registry.register(model: bad, content: content(["m": "x"]), message: nil) }
        }
        #expect(try registry.repository.referenceTarget("refs/heads/main") == tip)
        #expect(git(["status", "--porcelain"], in: dir.path).stdout == "")
    }

    @Test func bareRepositoryRegistry() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        _ = try makeRegistry(dir)
        let bare = dir.sub("bare.git")
        git(["clone", "-q", "--bare", dir.path, bare], in: dir.path)
        let registry = try Registry.discover(explicit: bare, environment: testEnvironment)
        let r = try registry.register(model: "m", content: content(["model.bin": "{}"]), message: nil)
        #expect(r.version == "v1")
        #expect(git(["--git-dir", bare, "log", "--format=%s", "-1"], in: dir.path).stdout == "Register m v1")
        #expect(git(["--git-dir", bare, "fsck", "--strict"], in: dir.path).status == 0)
        #expect(try registry.verify().ok)
    }
}

@Suite struct ReadTests {
    @Test func listShowDiff() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        _ = try registry.register(model: "b", content: content(["model.bin": "1"], metrics: ["accuracy": 0.8]), message: nil)
        _ = try registry.register(model: "a", content: content(["model.bin": "2"]), message: nil)
        _ = try registry.register(model: "b", content: content(["model.bin": "3"], metrics: ["accuracy": 0.9, "f1_macro": 0.5]), message: nil)
        // Deploy b@v1 to staging by hand, as a person editing YAML would.
        dir.write("deploy/staging.yaml", "schemaVersion: 1\nenvironment: staging\nmodels:\n  b:\n    version: v1\n    canary: {version: v2, weight: 25}\n")
        git(["commit", "-qam", "deploy b"], in: dir.path)
        let models = try registry.listModels()
        #expect(models.map(\.name) == ["a", "b"])
        #expect(models[1].versionCount == 2)
        #expect(models[1].latest == "v2")
        #expect(models[1].deployments.map(\.environment) == ["staging", "production"])
        #expect(models[1].deployments[0].deployment == Deployment(version: "v1", canary: Canary(version: "v2", weight: 25)))
        let versions = try registry.listVersions("b")
        #expect(versions.map(\.version) == ["v1", "v2"])
        #expect(versions[0].environments == ["staging"])
        #expect(versions[1].environments == ["staging (canary 25%)"])
        #expect(versions[1].metrics["f1_macro"] == 0.5)
        #expect(throws: RegistryError.unknownModel("zzz")) { try registry.listVersions("zzz") }
        let shown = try registry.show(try ModelReference(parsing: "b@staging"))
        #expect(shown.record.version == "v1")
        #expect(throws: RegistryError.unknownVersion(model: "b", version: "v9")) { try registry.show(try ModelReference(parsing: "b@v9")) }
        #expect(throws: RegistryError.notDeployed(model: "a", environment: "staging")) { try registry.show(try ModelReference(parsing: "a@staging")) }
        #expect(throws: RegistryError.self) { try registry.show(try ModelReference(parsing: "a@qa")) }
        let d = try registry.diff(try ModelReference(parsing: "b@v1"), try ModelReference(parsing: "b@v2"))
        let acc = d.rows.first { $0.section == "metrics.test" && $0.key == "accuracy" }
        #expect(acc?.delta.map { abs($0 - 0.1) < 1e-12 } == true)
        #expect(d.rows.contains { $0.key == "f1_macro" && $0.a == nil && $0.b == .number(0.5) })
    }

    @Test func historyFollowsMergesSquashesAndRebasesMadeByGit() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let p = dir.path
        let registry = try makeRegistry(dir)
        _ = try registry.register(model: "m", content: content(["model.bin": "1"]), message: nil)
        _ = try registry.register(model: "m", content: content(["model.bin": "2"]), message: nil)
        _ = try registry.register(model: "m", content: content(["model.bin": "3"]), message: nil)
        func deployOnBranch(_ branch: String, _ version: String) {
            git(["checkout", "-qb", branch], in: p)
            dir.write("deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  m: {version: \(version)}\n")
            git(["commit", "-qam", "promote m \(version)"], in: p)
            git(["checkout", "-q", "main"], in: p)
        }
        deployOnBranch("pr1", "v1")
        git(["merge", "-q", "--no-ff", "-m", "Merge pull request #1", "pr1"], in: p)
        deployOnBranch("pr2", "v2")
        git(["merge", "-q", "--squash", "pr2"], in: p)
        git(["commit", "-qm", "Promote m v2 (#2)"], in: p)
        deployOnBranch("pr3", "v3")
        git(["rebase", "-q", "main", "pr3"], in: p)
        git(["checkout", "-q", "main"], in: p)
        git(["merge", "-q", "--ff-only", "pr3"], in: p)
        dir.write("models/m/v1/card.md", try registry.head().text("models/m/v1/card.md")!.replacingOccurrences(of: "owner: \"\"", with: "owner: ada"))
        git(["commit", "-qam", "card"], in: p)
        let events = try registry.history("m")
        #expect(events.map(\.detail) == [
            "card of v1 edited", "production: v2 -> v3", "production: v1 -> v2", "production: none -> v1",
            "registered v3", "registered v2", "registered v1",
        ])
        #expect(events[3].summary == "Merge pull request #1")
        #expect(try registry.history("m", limit: 2).count == 2)
        let report = try registry.verify()
        #expect(report.ok, "\(report.problems)")
    }
}

@Suite struct VerifyTests {
    @Test func detectsTamperingCorruptionAndDanglingManifests() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let p = dir.path
        let registry = try makeRegistry(dir)
        _ = try registry.register(model: "m", content: content(["model.bin": "{\"w\":1}"], metrics: ["accuracy": 0.9]), message: nil)
        _ = try registry.register(model: "m", content: content(["model.bin": "{\"w\":2}", "vocab.txt": "x"], metrics: ["accuracy": 0.8]), message: nil)
        #expect(try registry.verify().ok)
        // 1. A later commit rewrites a registered artifact and its checksum consistently: history catches it.
        dir.write("models/m/v1/model.bin", "{\"w\":666}")
        let record = try registry.head().text("models/m/v1/version.yaml")!
        let newSum = SHA256.hex(Data("{\"w\":666}".utf8))
        let oldSum = SHA256.hex(Data("{\"w\":1}".utf8))
        dir.write("models/m/v1/version.yaml", record.replacingOccurrences(of: oldSum, with: newSum).replacingOccurrences(of: "size: 7", with: "size: 9"))
        git(["commit", "-qam", "sneaky retrain"], in: p)
        // 2. An artifact replaced without updating the checksum.
        dir.write("models/m/v2/vocab.txt", "y")
        // 3. A file removed.
        try FileManager.default.removeItem(atPath: dir.sub("models/m/v2/model.bin"))
        // 4. A manifest naming a version that does not exist, and a card that disagrees with metrics.json.
        dir.write("deploy/staging.yaml", "schemaVersion: 1\nenvironment: staging\nmodels:\n  m: {version: v7}\n  ghost: {version: v1}\n")
        let card = try registry.head().text("models/m/v2/card.md")!
        dir.write("models/m/v2/card.md", card.replacingOccurrences(of: "value: 0.8", with: "value: 0.99"))
        dir.write("models/m/v2/notes.txt", "added later")
        git(["add", "-A"], in: p)
        git(["commit", "-qm", "more damage"], in: p)
        let report = try registry.verify()
        let lines = report.problems.map(\.description)
        #expect(lines.contains { $0.hasPrefix("models/m/v1/model.bin: modified by commit") })
        #expect(lines.contains { $0.hasPrefix("models/m/v1/version.yaml: modified by commit") })
        #expect(lines.contains("models/m/v2/vocab.txt: sha256 differs from version.yaml (artifact corrupted or replaced)"))
        #expect(lines.contains { $0.hasPrefix("models/m/v2/vocab.txt: modified by commit") })
        #expect(lines.contains("models/m/v2/model.bin: listed in version.yaml but missing"))
        #expect(lines.contains { $0.hasPrefix("models/m/v2/model.bin: deleted by commit") })
        #expect(lines.contains("models/m/v2/notes.txt: not listed in version.yaml"))
        #expect(lines.contains("deploy/staging.yaml: names m@v7, which is not registered"))
        #expect(lines.contains("deploy/staging.yaml: names ghost@v1, which is not registered"))
        #expect(lines.contains("models/m/v2/card.md: states accuracy = 0.99 but metrics.json has 0.8"))
        #expect(!lines.contains { $0.contains("card.md: modified") })
    }

    @Test func detectsCorruptionWithoutHistory() throws {
        // A version committed in one go with a wrong checksum (a corrupt upload, say).
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        _ = try registry.register(model: "m", content: content(["model.bin": "good"]), message: nil)
        let record = try registry.head().text("models/m/v1/version.yaml")!
        let repo = registry.repository
        let tip = try repo.referenceTarget("refs/heads/main")!
        let corrupted = record.replacingOccurrences(of: "size: 4", with: "size: 4")
        try repo.commit(
            changes: [
                "models/m/v2/model.bin": .blob(try repo.writeBlob(Data("evil".utf8))),
                "models/m/v2/version.yaml": .blob(try repo.writeBlob(Data(corrupted.replacingOccurrences(of: "version: v1", with: "version: v2").utf8))),
                "models/m/v2/card.md": .blob(try repo.entry(at: "models/m/v1/card.md", inTree: try repo.treeID(ofCommit: tip))!.id),
            ], onBranch: "refs/heads/main", parent: tip, message: "corrupt", identity: try registry.identity())
        let lines = try registry.verify().problems.map(\.description)
        // The card was copied from v1 and still says so: a version re-registered by hand is caught.
        #expect(lines == ["models/m/v2/model.bin: sha256 differs from version.yaml (artifact corrupted or replaced)",
                          "models/m/v2/card.md: its version is 'v1', but the card lies in models/m/v2"])
    }

    @Test func invalidFilesAreProblemsNotCrashes() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        _ = try registry.register(model: "m", content: content(["model.bin": "x"]), message: nil)
        dir.write("deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  m: {version: latest}\n")
        dir.write("models/m/model.yaml", "schemaVersion: 1\nname: m\ntask: clustering\n")
        git(["commit", "-qam", "hand edits"], in: dir.path)
        let lines = try registry.verify().problems.map(\.description)
        #expect(lines.contains("deploy/production.yaml: field 'models.m.version' 'latest' is not a version (v1, v2, ...)"))
        #expect(lines.contains("models/m/model.yaml: field 'task' must be classification or regression, found 'clustering'"))
    }
}

@Suite struct ChangeIndexTests {
    @Test func historyIsTheSameWithAFreshAWarmAndADamagedIndex() throws {
        let dir = TempDir("reg")
        defer { dir.remove() }
        let registry = try makeRegistry(dir)
        for i in 0..<5 { _ = try registry.register(model: i % 2 == 0 ? "a" : "b", content: content(["model.bin": "\(i)"]), message: nil) }
        let cold = try registry.history("a").map(\.detail)
        #expect(cold == ["registered v3", "registered v2", "registered v1"])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.sub(".git/mreg"))
        #expect(files.count == 1 && files[0].hasPrefix("changes-"))
        #expect(try registry.history("a").map(\.detail) == cold)
        // New commits after the index was written are picked up.
        _ = try registry.register(model: "a", content: content(["model.bin": "x"]), message: nil)
        #expect(try registry.history("a").first?.detail == "registered v4")
        // Garbage, truncation and a rewritten branch all give the right answer.
        let file = dir.sub(".git/mreg/" + files[0])
        for damage in [Data("garbage".utf8), Data("MREGCHG1".utf8) + Data(repeating: 0xFF, count: 57), Data()] {
            try damage.write(to: URL(fileURLWithPath: file))
            #expect(try registry.history("a").map(\.detail) == ["registered v4"] + cold)
        }
        git(["reset", "-q", "--hard", "HEAD~2"], in: dir.path)
        #expect(try registry.history("a").map(\.detail) == ["registered v2", "registered v1"])
        #expect(try registry.history("b").map(\.detail) == ["registered v2", "registered v1"])
    }
}
