import Foundation
import MregCore
import MregReconciler
import MregTestSupport
import Testing

@Suite(.serialized) struct ReconcilerTests {
    @Test func backoffDoublesAndIsCapped() {
        #expect(Reconciler.backoff(interval: 30, errorStreak: 0, maxBackoff: 300) == 30)
        #expect((1...6).map { Reconciler.backoff(interval: 30, errorStreak: $0, maxBackoff: 300) } == [30, 60, 120, 240, 300, 300])
        // Capped at 32 intervals when maxBackoff is larger, and never below the interval.
        #expect(Reconciler.backoff(interval: 1, errorStreak: 40, maxBackoff: 3600) == 32)
        #expect(Reconciler.backoff(interval: 600, errorStreak: 3, maxBackoff: 300) == 600)
        #expect(Reconciler.backoff(interval: 0.1, errorStreak: 1_000_000, maxBackoff: 0.4) == 0.4)
    }

    @Test func appliesAPromotionAndRemovesTheOldVersion() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let reconciler = try Reconciler(configuration: lab.configuration())
        let first = await reconciler.pass()
        #expect(first.outcome == .applied, "\(first)")
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
        #expect(await infer(lab.server.url) == 200)
        #expect(await reconciler.pass().outcome == .unchanged)

        // A canary, then the full switch.
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v1", canary: Canary(version: "v2", weight: 10))])
        lab.push("canary v2")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1", canary: Canary(version: "v2", weight: 10)))
        lab.setManifest(["penguins": Deployment(version: "v2")])
        let tip = lab.push("v2 to production")
        let switched = await reconciler.pass()
        #expect(switched.outcome == .applied)
        #expect(switched.commit == tip)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v2"))
        #expect(lab.versionFolders("penguins") == ["v2"])
        let status = reconciler.board.current
        #expect(status.appliedCommit == tip && status.desiredCommit == tip && status.converged)
        #expect(status.models.map(\.state) == ["serving"])
        // state.json has the applied commit and the history.
        let state = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: lab.store + "/.mreg/state.json")))
        #expect(state["appliedCommit"]?.stringValue == tip)
        #expect((state["passes"]?.arrayValue?.count ?? 0) >= 4)
    }

    @Test func adminTokenIsSentAndAMissingOneIsNotARefusal() async throws {
        let lab = try Lab(token: "s3cret-token-0123456789")
        defer { lab.close() }
        var config = lab.configuration()
        do {
            let without = try Reconciler(configuration: config)
            let pass = await without.pass()
            #expect(pass.outcome == .error && pass.detail?.contains("401") == true, "\(pass)")
            #expect(without.board.current.failed == nil)
        }
        config.adminToken = "s3cret-token-0123456789"
        let with = try Reconciler(configuration: config)
        #expect(await with.pass().outcome == .applied)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
    }

    @Test func registryInASubfolder() async throws {
        let lab = try Lab()
        defer { lab.close() }
        try FileManager.default.createDirectory(atPath: lab.work + "/ml", withIntermediateDirectories: true)
        git(["mv", "mreg.yaml", "models", "deploy", "ml/"], in: lab.work)
        lab.dir.write("work/README.md", "a monorepo\n")
        lab.push("move the registry to ml/")
        var config = lab.configuration()
        let atRoot = try Reconciler(configuration: config)
        #expect(await atRoot.pass().outcome == .rejected)
        #expect(atRoot.board.current.failed?.reason.contains("deploy/production.yaml does not exist") == true)
        // Another host whose reconciler is told where the registry is.
        try FileManager.default.createDirectory(atPath: lab.dir.sub("store2"), withIntermediateDirectories: true)
        let server2 = try ModelServerProcess(store: lab.dir.sub("store2"))
        defer { server2.stop() }
        config.prefix = "ml/"
        config.store = lab.dir.sub("store2")
        config.server = server2.url
        let inFolder = try Reconciler(configuration: config)
        let pass = await inFolder.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        #expect(FileManager.default.fileExists(atPath: lab.dir.sub("store2/penguins/v1/model.json")))
    }

    @Test func hostsAndEmptyManifests() async throws {
        let lab = try Lab()
        defer { lab.close() }
        lab.addVersion("gentoo", "v1")
        lab.setManifest(["penguins": Deployment(version: "v1"), "gentoo": Deployment(version: "v1", hosts: ["h2"])])
        lab.push("gentoo on h2 only")
        let reconciler = try Reconciler(configuration: lab.configuration(host: "h1"))
        #expect(await reconciler.pass().outcome == .applied)
        #expect(try await lab.serving().keys.sorted() == ["penguins"])
        #expect(!FileManager.default.fileExists(atPath: lab.store + "/gentoo"))

        // Emptying the host is refused without allowEmpty.
        lab.setManifest(["gentoo": Deployment(version: "v1", hosts: ["h2"])])
        let empty = lab.push("nothing for h1")
        let refused = await reconciler.pass()
        #expect(refused.outcome == .rejected)
        #expect(refused.detail?.contains("allowEmpty") == true)
        #expect(reconciler.board.current.failed?.commit == empty)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))

        lab.setManifest(["gentoo": Deployment(version: "v1", hosts: ["h2"])], allowEmpty: true)
        lab.push("nothing for h1, on purpose")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(try await lab.serving().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: lab.store + "/penguins"))
    }

    @Test func selfHealsDeletedEditedAndUnloaded() async throws {
        let lab = try Lab()
        defer { lab.close() }
        // Something that is not mreg's stays untouched throughout.
        lab.dir.write("store/other/v1/model.json", "{}")
        let reconciler = try Reconciler(configuration: lab.configuration())
        #expect(await reconciler.pass().outcome == .applied)

        let model = lab.store + "/penguins/v1/model.json"
        try Data("{\"edited\": true}".utf8).write(to: URL(fileURLWithPath: model))
        let healed = await reconciler.pass()
        #expect(healed.outcome == .healed)
        #expect(healed.detail?.contains("write penguins@v1") == true)
        #expect(SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: model))) == SHA256.hex(artifacts[0]))

        try FileManager.default.removeItem(atPath: lab.store + "/penguins")
        #expect(await reconciler.pass().outcome == .healed)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))

        try await ServerClient(baseURL: lab.server.url, token: nil).unload("penguins")
        #expect(try await lab.serving()["penguins"] == nil)
        #expect(await reconciler.pass().outcome == .healed)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
        #expect(FileManager.default.fileExists(atPath: lab.store + "/other/v1/model.json"))
    }

    @Test func suspendReportsDriftAndChangesNothing() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let reconciler = try Reconciler(configuration: lab.configuration())
        #expect(await reconciler.pass().outcome == .applied)
        #expect(FileManager.default.createFile(atPath: lab.store + "/.mreg/suspend", contents: Data()))
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        lab.push("v2")
        let suspended = await reconciler.pass()
        #expect(suspended.outcome == .suspended)
        #expect(suspended.detail?.contains("serve penguins v2") == true)
        #expect(reconciler.board.current.suspended && !reconciler.board.current.converged)
        #expect(reconciler.board.current.models.first?.state == "drift")
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
        try FileManager.default.removeItem(atPath: lab.store + "/.mreg/suspend")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v2"))
    }

    @Test func stagingLeftoversAreRemovedAndARestartConverges() async throws {
        let lab = try Lab()
        defer { lab.close() }
        do {
            let reconciler = try Reconciler(configuration: lab.configuration())
            #expect(await reconciler.pass().outcome == .applied)
            // A second reconciler on the same store is refused while the first holds the lock.
            #expect(throws: StoreError.self) { try Reconciler(configuration: lab.configuration()) }
        }
        // As a kill -9 mid-apply would leave it: a half-written staging folder, a folder set aside.
        lab.dir.write("store/.staging-1234/model.json", "{\"half")
        lab.dir.write("store/.trash-5678/model.json", "{}")
        let restarted = try Reconciler(configuration: lab.configuration())
        #expect(!FileManager.default.fileExists(atPath: lab.store + "/.staging-1234"))
        #expect(!FileManager.default.fileExists(atPath: lab.store + "/.trash-5678"))
        #expect(await restarted.pass().outcome == .unchanged)
        #expect(restarted.board.current.passes.count >= 2, "history survives a restart")
    }

    @Test func smokeTestsAreNeverCapturedAsTraffic() async throws {
        let lab = try Lab(capture: true)
        defer { lab.close() }
        let reconciler = try Reconciler(configuration: lab.configuration())
        #expect(await reconciler.pass().outcome == .applied)
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        _ = lab.push("v2")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(await infer(lab.server.url) == 200)
        // Stopping the server drains its capture queue: every record it took is on disk then.
        lab.server.stop()
        let folder = lab.dir.sub("capture")
        let records = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jsonl") }
            .flatMap { try String(contentsOfFile: folder + "/" + $0, encoding: .utf8).split(separator: "\n") }
        #expect(records.count == 1, "two smoke tests ran, one request was real: \(records)")
    }
}

/// One model a host cannot load never blocks the others of its environment.
@Suite(.serialized) struct UnservableModelTests {
    @Test func aModelTheHostCannotLoadIsReportedAndTheRestIsServed() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let reconciler = try Reconciler(configuration: lab.configuration())
        #expect(await reconciler.pass().outcome == .applied)
        // A pickle (no runtime here), an XGBoost file the server refuses, and a real change to penguins.
        lab.addVersion("sk", "v1", artifact: Data("\u{80}\u{04}pickle".utf8), file: "model.pkl", format: "unknown")
        lab.addVersion("bad", "v1", artifact: Data("{\"learner\": {\"objective\": {}}}".utf8), format: "xgboost-json")
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2"), "sk": Deployment(version: "v1"), "bad": Deployment(version: "v1")])
        let tip = lab.push("three models")
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        #expect(pass.detail?.contains("not served: bad (") == true, "\(pass.detail ?? "")")
        let serving = try await lab.serving()
        #expect(serving["penguins"] == ServingTarget(version: "v2"))
        #expect(serving["sk"] == nil && serving["bad"] == nil)
        #expect(await infer(lab.server.url) == 200)
        let status = reconciler.board.current
        #expect(status.appliedCommit == tip && status.failed == nil && !status.converged)
        let rows = Dictionary(uniqueKeysWithValues: status.models.map { ($0.name, $0) })
        #expect(rows["penguins"]?.state == "serving")
        #expect(rows["sk"]?.state == "failed")
        #expect(rows["sk"]?.reason == "sk@v1 is format 'unknown' ('model.pkl'): no runtime on this host serves it")
        #expect(rows["bad"]?.state == "failed")
        #expect(rows["bad"]?.reason?.contains("bad/v1/model.json") == true, "\(rows["bad"]?.reason ?? "")")
        let json = status.json.encodedString()
        #expect(json.contains("\"reason\":\"sk@v1 is format 'unknown'"), "\(json)")
        // Nothing is retried until the manifest changes; the broken folders are not left in the store.
        let loads = status.counters.loads
        #expect(await reconciler.pass().outcome == .unchanged)
        #expect(reconciler.board.current.counters.loads == loads)
        #expect(lab.versionFolders("bad").isEmpty && lab.versionFolders("sk").isEmpty)
        // Dropping them from the manifest converges.
        lab.setManifest(["penguins": Deployment(version: "v2")])
        lab.push("drop the broken models")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(reconciler.board.current.converged)
    }
}
