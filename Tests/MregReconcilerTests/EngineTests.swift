import Foundation
import MregCore
import MregReconciler
import MregTestSupport
import Testing

/// Engines per host: configuration parsing, and routing by format without any MLServer.
@Suite(.serialized) struct EngineConfigurationTests {
    @Test func parsesKindURLRepositoryAndFormats() throws {
        let ml = try Engine.parse("mlserver=http://127.0.0.1:8081,repo=/var/lib/mlserver/models,formats=sklearn+mlflow")
        #expect(ml.kind == .mlserver && ml.url == "http://127.0.0.1:8081" && ml.repository == "/var/lib/mlserver/models")
        #expect(ml.formats == ["sklearn", "mlflow"] && !ml.splitsTraffic)
        #expect(ml.serves("sklearn") && !ml.serves("xgboost-json") && !ml.serves(nil))
        let native = try Engine.parse("mreg=http://127.0.0.1:8080")
        #expect(native.formats == VersionRecord.nativeFormats && native.splitsTraffic && native.serves(nil))
        #expect(Engine(kind: .mlserver, url: "http://x:1", repository: "/r").formats == ["sklearn", "mlflow", "xgboost-json", "xgboost-ubjson", "lightgbm-text"])
        #expect(throws: EngineError("engine 'mlserver' needs repo=DIR, the model repository it was started on (mlserver start DIR)")) {
            try Engine.parse("mlserver=http://127.0.0.1:8081")
        }
        #expect(throws: EngineError("engine 'mreg' takes no repo=: mreg serve reads the reconciler's --store")) {
            try Engine.parse("mreg=http://127.0.0.1:8080,repo=/x")
        }
        #expect(throws: EngineError("engine 'mlserver': 'repo' is not an option or is given twice (repo=, formats=)")) {
            try Engine.parse("mlserver=http://h:1,repo=/a,repo=/b")
        }
        #expect(throws: EngineError("engine 'mreg' is given twice; a host drives one of each")) {
            try Engine.validate([native, native])
        }
        for hostile in ["", "=", "mreg", "mreg=", "mreg=not a url", "mreg=http://", "mlserver=http://h:1,repo=", "x=http://h:1", "mreg=http://h:1,,"] {
            #expect(throws: EngineError.self, "\(hostile)") { try Engine.parse(hostile) }
        }
    }

    @Test func aFormatNoEngineServesIsReportedAndTheNativeModelsAreServed() async throws {
        let lab = try Lab()
        defer { lab.close() }
        var configuration = lab.configuration()
        configuration.engines = [Engine(kind: .mreg, url: configuration.server)]
        let reconciler = try Reconciler(configuration: configuration)
        #expect(await reconciler.pass().outcome == .applied)
        lab.addVersion("sk", "v1", artifact: Data("\u{80}\u{04}pickle".utf8), file: "model.joblib", format: "sklearn")
        lab.setManifest(["penguins": Deployment(version: "v1"), "sk": Deployment(version: "v1")])
        lab.push("an sklearn model on a host with mreg serve alone")
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        let status = reconciler.board.current
        let rows = Dictionary(uniqueKeysWithValues: status.models.map { ($0.name, $0) })
        #expect(rows["penguins"]?.state == "serving" && rows["penguins"]?.engine == "mreg")
        #expect(rows["sk"]?.state == "failed" && rows["sk"]?.engine == nil)
        #expect(rows["sk"]?.reason == "sk@v1 is format 'sklearn' ('model.joblib'): no runtime on this host serves it")
        #expect(!status.converged)
        #expect(status.json.encodedString().contains("\"splitsTraffic\":true"))
    }

    @Test func settingsMregDidNotWriteAreNeverReplaced() async throws {
        let lab = try Lab()
        defer { lab.close() }
        let repository = lab.dir.sub("mlserver-models")
        lab.dir.write("mlserver-models/sk/model-settings.json", "{\"name\": \"sk\", \"implementation\": \"theirs.Model\"}\n")
        // A probe a crash left behind is mreg's and goes; one that is not mreg's stays.
        lab.dir.write("mlserver-models/fraud~mreg-probe/model-settings.json", "{\"name\": \"fraud~mreg-probe\", \"parameters\": {\"extra\": {\"mreg\": {\"version\": \"v1\"}}}}\n")
        lab.dir.write("mlserver-models/other~mreg-probe/model-settings.json", "{\"name\": \"other~mreg-probe\"}\n")
        var configuration = lab.configuration()
        // Nothing listens there: the pass must not need it to refuse the model.
        configuration.engines = [Engine(kind: .mreg, url: configuration.server),
                                 Engine(kind: .mlserver, url: "http://127.0.0.1:\(freePort())", repository: repository)]
        let reconciler = try Reconciler(configuration: configuration)
        #expect(!FileManager.default.fileExists(atPath: repository + "/fraud~mreg-probe"))
        #expect(FileManager.default.fileExists(atPath: repository + "/other~mreg-probe/model-settings.json"))
        lab.addVersion("sk", "v1", artifact: Data("\u{80}\u{04}pickle".utf8), file: "model.joblib", format: "sklearn")
        lab.setManifest(["penguins": Deployment(version: "v1"), "sk": Deployment(version: "v1")])
        lab.push("sk on MLServer, whose folder is someone else's")
        let pass = await reconciler.pass()
        #expect(pass.outcome == .applied, "\(pass)")
        let rows = Dictionary(uniqueKeysWithValues: reconciler.board.current.models.map { ($0.name, $0) })
        #expect(rows["penguins"]?.state == "serving")
        #expect(rows["sk"]?.state == "failed" && rows["sk"]?.engine == "mlserver", "\(String(describing: rows["sk"]))")
        #expect(rows["sk"]?.reason == "'\(repository)/sk/model-settings.json' was not written by mreg; mreg replaces nothing it did not create (move it away)")
        let kept = try String(contentsOfFile: repository + "/sk/model-settings.json", encoding: .utf8)
        #expect(kept.contains("theirs.Model"))
    }
}
