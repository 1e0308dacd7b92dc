import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import MregCore
import MregReconciler
import MregTestSupport
import Testing

/// Each fault leaves the host serving the last good state, with the reason reported, and the bad
/// commit is not tried again until a new one arrives.
@Suite(.serialized) struct FaultTests {
    /// A lab whose host serves v1, and its reconciler.
    func served() async throws -> (Lab, Reconciler) {
        let lab = try Lab()
        let reconciler = try Reconciler(configuration: lab.configuration())
        let first = await reconciler.pass()
        #expect(first.outcome == .applied, "\(first)")
        return (lab, reconciler)
    }

    /// The bad tip was refused for `reason`, v1 still serves and answers, and the next pass does not retry.
    func expectRefused(_ lab: Lab, _ reconciler: Reconciler, tip: String, reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = reconciler.board.current
        #expect(status.failed?.commit == tip, sourceLocation: sourceLocation)
        #expect(status.failed?.reason.contains(reason) == true, "\(status.failed?.reason ?? "nil")", sourceLocation: sourceLocation)
        #expect(status.appliedCommit != tip && !status.converged, sourceLocation: sourceLocation)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"), sourceLocation: sourceLocation)
        #expect(await infer(lab.server.url) == 200, sourceLocation: sourceLocation)
        #expect(lab.versionFolders("penguins") == ["v1"], "nothing of the refused commit stays", sourceLocation: sourceLocation)
        let again = await reconciler.pass()
        #expect(again.outcome == .rejected && again.detail == status.failed?.reason, sourceLocation: sourceLocation)
        let loads = reconciler.board.current.counters.loads
        #expect(loads == status.counters.loads, "not retried", sourceLocation: sourceLocation)
    }

    /// The tip was applied but `model` was left serving v1 and reported failed for `reason`; the next pass does not retry it.
    func expectModelFailed(_ lab: Lab, _ reconciler: Reconciler, tip: String, reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = reconciler.board.current
        #expect(status.failed == nil && status.appliedCommit == tip && !status.converged, sourceLocation: sourceLocation)
        let row = status.models.first { $0.name == "penguins" }
        #expect(row?.state == "failed", sourceLocation: sourceLocation)
        #expect(row?.reason?.contains(reason) == true, "\(row?.reason ?? "nil")", sourceLocation: sourceLocation)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"), sourceLocation: sourceLocation)
        #expect(await infer(lab.server.url) == 200, sourceLocation: sourceLocation)
        #expect(lab.versionFolders("penguins") == ["v1"], "nothing of the failed version stays", sourceLocation: sourceLocation)
        let again = await reconciler.pass()
        #expect(again.outcome == .unchanged && again.detail?.contains(reason) == true, "\(again)", sourceLocation: sourceLocation)
        #expect(reconciler.board.current.counters.loads == status.counters.loads, "not retried", sourceLocation: sourceLocation)
    }

    @Test func invalidManifest() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        lab.dir.write("work/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins:\n    version: v2\n    replicas: 3\n")
        let tip = lab.push("bad manifest")
        let refused = await reconciler.pass()
        #expect(refused.outcome == .rejected && !refused.repeatsPrevious)
        try await expectRefused(lab, reconciler, tip: tip, reason: "replicas")
        // The same refusal again is marked so (the log says it once).
        #expect(reconciler.board.current.passes.last?.repeatsPrevious == true)
        #expect(reconciler.board.current.lastError?.message.contains("replicas") == true)
        // A new good commit is applied again, and the last error is cleared.
        lab.setManifest(["penguins": Deployment(version: "v1")])
        let fixed = lab.push("fix")
        #expect(await reconciler.pass().outcome == .applied)
        #expect(reconciler.board.current.failed == nil && reconciler.board.current.appliedCommit == fixed)
        #expect(reconciler.board.current.lastError == nil)
    }

    @Test func manifestNamingAMissingVersion() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        lab.setManifest(["penguins": Deployment(version: "v7")])
        let tip = lab.push("v7 does not exist")
        #expect(await reconciler.pass().outcome == .rejected)
        try await expectRefused(lab, reconciler, tip: tip, reason: "penguins@v7, which does not exist")
    }

    @Test func artifactCorruptedInTheCommit() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        lab.addVersion("penguins", "v2", corruptAfterRecord: true)
        lab.setManifest(["penguins": Deployment(version: "v2")])
        let tip = lab.push("corrupt v2")
        #expect(await reconciler.pass().outcome == .applied)
        try await expectModelFailed(lab, reconciler, tip: tip, reason: "checksum mismatch")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: lab.store).filter { $0.hasPrefix(".staging") }
        #expect(leftovers.isEmpty)
    }

    @Test func aModelThatFailsToLoadNeverBlocksTheOthers() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        // Two models change in one commit: gentoo loads fine, penguins v2 does not. gentoo is served,
        // penguins stays on v1 and is reported failed.
        lab.addVersion("gentoo", "v1")
        lab.addVersion("penguins", "v2", artifact: Data("{\"schemaVersion\": 1, \"format\": \"nonsense\"}".utf8))
        lab.setManifest(["gentoo": Deployment(version: "v1"), "penguins": Deployment(version: "v2")])
        let tip = lab.push("v2 cannot load")
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied)
        #expect(pass.detail?.contains("not served: penguins (load penguins@v2 failed") == true, "\(pass.detail ?? "")")
        #expect(try await lab.serving()["gentoo"] == ServingTarget(version: "v1"))
        #expect(await infer(lab.server.url, model: "gentoo") == 200)
        #expect(reconciler.board.current.counters.rollbacks == 1)
        try await expectModelFailed(lab, reconciler, tip: tip, reason: "penguins@v2")
    }

    @Test func forcePushedMainIsFollowed() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        lab.push("v2")
        #expect(await reconciler.pass().outcome == .applied)
        // History rewritten: main is reset to a different commit that serves v1 again.
        git(["reset", "-q", "--hard", "HEAD~1"], in: lab.work)
        let rewritten = lab.commit("rewritten history")
        #expect(git(["push", "-q", "--force", "origin", "main"], in: lab.work).status == 0)
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        #expect(reconciler.board.current.appliedCommit == rewritten)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
        #expect(lab.versionFolders("penguins") == ["v1"])
    }

    /// A force-pushed main redefines v1 (same name, other content): the store folder is rewritten
    /// and the server reads it again, since content, not the name, decides what is served.
    @Test func aVersionRedefinedByAHistoryRewriteIsReloaded() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        func algorithm() async -> String? {
            guard let (data, _) = try? await URLSession.shared.data(from: URL(string: lab.server.url + "/v2/models/penguins/versions/v1")!) else { return nil }
            return (try? JSONValue.parse(data))?["parameters"]?["algorithm"]?.stringValue
        }
        #expect(await algorithm() == "logistic")
        lab.addVersion("penguins", "v1", artifact: gbdtArtifact)
        git(["add", "-A"], in: lab.work)
        git(["commit", "-q", "--amend", "-m", "v1, redefined"], in: lab.work)
        #expect(git(["push", "-q", "--force", "origin", "main"], in: lab.work).status == 0)
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        #expect(pass.detail?.contains("reload penguins@v1") == true, "\(pass.detail ?? "")")
        #expect(await algorithm() == "gbdt", "the server serves what the folder now holds")
        #expect(await infer(lab.server.url) == 200)
    }

    @Test func remoteDownAndBack() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        lab.daemon.stop()
        let down = await reconciler.pass()
        #expect(down.outcome == .error)
        #expect(down.detail?.contains("remote") == true, "\(down.detail ?? "")")
        #expect(reconciler.board.current.lastError != nil)
        #expect(await infer(lab.server.url) == 200, "serving is not interrupted")
        // The loop backs off while the remote is down (the delays: ReconcilerTests.backoffDoublesAndIsCapped)
        // and picks up the commit made meanwhile once it is back.
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        lab.commit("v2 while the remote is down")
        let loop = Task { await reconciler.run() }
        defer { loop.cancel() }
        let failing = Date().addingTimeInterval(10)
        while (reconciler.board.current.counters.passes[.error] ?? 0) < 2 && Date() < failing {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect((reconciler.board.current.counters.passes[.error] ?? 0) >= 2, "the loop goes on through the outage")
        try lab.daemon.start()
        #expect(git(["push", "-q", "origin", "main"], in: lab.work).status == 0)
        let deadline = Date().addingTimeInterval(10)
        while try await lab.serving()["penguins"] != ServingTarget(version: "v2") && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v2"))
    }

    @Test func aRemoteThatNeverAnswersIsCutOffAndNeverPiledUp() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let silent = SilentListener()
        var config = lab.configuration()
        config.repository = "git://127.0.0.1:\(silent.port)/registry.git"
        config.gitTimeout = 0.5
        let reconciler = try Reconciler(configuration: config)
        let first = await reconciler.pass()
        #expect(first.outcome == .error)
        #expect(first.detail?.contains("gave no answer within 0.5 s") == true, "\(first.detail ?? "")")
        // The stuck call still holds its lane: the next pass says so instead of starting another.
        let second = await reconciler.pass()
        #expect(second.outcome == .error)
        #expect(second.detail?.contains("still waiting from an earlier pass") == true, "\(second.detail ?? "")")
        // The remote goes away: the stuck call returns, and passes try the remote again.
        silent.close()
        var detail = second.detail ?? ""
        let deadline = Date().addingTimeInterval(20)
        while detail.contains("still waiting") && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
            detail = await reconciler.pass().detail ?? ""
        }
        #expect(!detail.contains("still waiting") && !detail.contains("no answer"), "\(detail)")
    }

    /// A store on a small tmpfs (needs root to mount; skipped, visibly, without it).
    static let canMount: Bool = {
        let probe = NSTemporaryDirectory() + "mreg-mount-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).status == 0 else { return false }
        _ = run("umount", [probe])
        return true
    }()

    @Test(.enabled(if: FaultTests.canMount, "needs root to mount a small tmpfs as a full disk"))
    func aDiskThatFilledWhileStagingIsRetriedOnceThereIsRoom() async throws {
        let lab = try Lab()
        defer {
            _ = run("umount", ["-l", lab.store])
            lab.close()
        }
        #expect(run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", lab.store]).status == 0)
        let reconciler = try Reconciler(configuration: lab.configuration())
        #expect(await reconciler.pass().outcome == .applied)
        // The disk fills up; v2 (a 1 MB artifact) cannot be staged.
        var filled = 0
        while filled < 64, FileManager.default.createFile(atPath: lab.store + "/filler-\(filled)", contents: Data(count: 256 * 1024)) {
            filled += 1
        }
        let model = try String(contentsOfFile: lab.store + "/penguins/v1/model.json", encoding: .utf8)
        lab.addVersion("penguins", "v2", artifact: Data((model + String(repeating: " ", count: 1 << 20)).utf8))
        lab.setManifest(["penguins": Deployment(version: "v2")])
        let tip = lab.push("v2 while the disk is full")
        let full = await reconciler.pass()
        #expect(full.outcome == .error, "\(full)")
        #expect(full.detail?.contains("retrying") == true, "\(full.detail ?? "")")
        #expect(reconciler.board.current.failed == nil, "a full disk is not the commit's fault")
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v1"))
        // Room again: the next pass applies the same commit, nobody pushes anything.
        for i in 0...filled { try? FileManager.default.removeItem(atPath: lab.store + "/filler-\(i)") }
        let retried = await reconciler.pass()
        #expect(retried.outcome == .applied, "\(retried)")
        #expect(reconciler.board.current.appliedCommit == tip)
        #expect(try await lab.serving()["penguins"] == ServingTarget(version: "v2"))
    }

    @Test func modelServerDownIsRetriedNotRefused() async throws {
        let (lab, reconciler) = try await served()
        defer { lab.close() }
        let store = lab.store
        lab.server.stop()
        lab.addVersion("penguins", "v2")
        lab.setManifest(["penguins": Deployment(version: "v2")])
        lab.push("v2 while the server is down")
        let pass = await reconciler.pass()
        #expect(pass.outcome == .error)
        #expect(reconciler.board.current.failed == nil, "a network error does not mark the commit bad")
        _ = store
    }
}
