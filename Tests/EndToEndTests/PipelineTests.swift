import Foundation
import MregTestSupport
import Testing

@Suite(.serialized) struct PipelineTests {
    static let pipeline = """
        schemaVersion: 1
        name: retrain
        model: penguins
        data:
          path: penguins.csv
          target: species
          schema: {species: categorical, island: categorical, bill_length_mm: numeric, bill_depth_mm: numeric,
                   flipper_length_mm: numeric, body_mass_g: numeric, sex: categorical}
        split: {holdout: 0.25, seed: 7}
        train:
          algorithm: logistic
          trials: 3
          space: {C: [0.5, 2, 8]}
        gate:
          accuracy: {min: 0.85}
        promote:
          to: staging
        """

    func setUp(_ dir: TempDir) -> String {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        try? FileManager.default.copyItem(atPath: penguinsCSV, toPath: dir.sub("penguins.csv"))
        dir.write("retrain.yaml", PipelineTests.pipeline)
        return reg
    }

    @Test func runsEndToEndRecordsEveryStepAndRerunsDoNothing() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        let r = mreg(["pipeline", "run", dir.sub("retrain.yaml"), "--json"], in: reg)
        #expect(r.status == 0, "\(r.stderr)")
        let out = json(r.stdout)
        let steps = (out["steps"] as? [[String: Any]]) ?? []
        #expect(steps.map { $0["name"] as? String ?? "" } == ["data", "split", "train", "evaluate", "gate", "register", "promote"])
        #expect(steps.allSatisfy { $0["status"] as? String == "ran" })
        #expect((out["registered"] as? [String: Any])?["version"] as? String == "v1")
        #expect((out["promotion"] as? [String: Any])?["branch"] as? String == "promote/penguins-v1-staging")
        // Never a deploy: main's manifest is untouched, the branch waits for review.
        #expect(git(["show", "main:deploy/staging.yaml"], in: reg).stdout.contains("models: {}"))
        // The version says exactly how it was made.
        let record = git(["show", "main:models/penguins/v1/version.yaml"], in: reg).stdout
        #expect(record.contains("kind: pipeline"))
        #expect(record.contains("sha256: " + String(run("sha256sum", [dir.sub("retrain.yaml")]).stdout.prefix(64))))
        for step in ["data", "split", "train", "evaluate", "gate", "register"] { #expect(record.contains("name: \(step)"), "\(step)") }
        #expect(git(["show", "main:models/penguins/v1/metrics.json"], in: reg).stdout.contains("\"holdout\""))
        let trialC = record.components(separatedBy: "\n").filter { $0.contains("C: ") }
        #expect(trialC.contains { $0.contains("C: 8") } && trialC.contains { $0.contains("C: 0.5") })
        #expect(mreg(["verify"], in: reg).status == 0)
        // A rerun with unchanged inputs does no work.
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        let again = mreg(["pipeline", "run", dir.sub("retrain.yaml")], in: reg)
        #expect(again.status == 0)
        #expect(again.stdout.contains("unchanged inputs: penguins@v1 was trained by an earlier run"))
        #expect(again.stdout.contains("already registered as penguins@v1"))
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
        // --dry-run trains and writes nothing.
        dir.write("retrain.yaml", PipelineTests.pipeline.replacingOccurrences(of: "trials: 3", with: "trials: 2"))
        let dry = mreg(["pipeline", "run", dir.sub("retrain.yaml"), "--dry-run"], in: reg)
        #expect(dry.status == 0 && dry.stdout.contains("would train logistic with 2 trial(s)"))
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
    }

    @Test func failingGateRegistersNothingUnlessAskedToKeepRejected() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        dir.write("strict.yaml", PipelineTests.pipeline.replacingOccurrences(of: "min: 0.85", with: "min: 1.5"))
        let r = mreg(["pipeline", "run", dir.sub("strict.yaml")], in: reg)
        #expect(r.status == 1)
        #expect(r.stdout.contains("gate      failed   FAIL accuracy"))
        #expect(r.stdout.contains("gate failed: nothing registered"))
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
        #expect(git(["branch", "--list", "promote/*"], in: reg).stdout == "")
        dir.write("keep.yaml", PipelineTests.pipeline.replacingOccurrences(of: "min: 0.85", with: "min: 1.5") + "\nregister: {keepRejected: true}\n")
        let kept = mreg(["pipeline", "run", dir.sub("keep.yaml")], in: reg)
        #expect(kept.status == 1)
        #expect(kept.stdout.contains("(rejected: kept for the record, never promoted)"))
        #expect(git(["show", "main:models/penguins/v1/version.yaml"], in: reg).stdout.contains("status: rejected"))
        #expect(git(["branch", "--list", "promote/*"], in: reg).stdout == "")
    }

    @Test func badPipelinesAndDataExitTwo() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = setUp(dir)
        dir.write("ragged.csv", "species,island\nAdelie\n")
        let cases: [(String, [String], String)] = [
            ("schemaVersion: 2\nname: x\nmodel: m\ndata: {target: y}\ntrain: {}\n", [], "schemaVersion"),
            ("schemaVersion: 1\nname: x\nmodel: ../m\ndata: {target: y}\ntrain: {}\n", [], "not a valid model name"),
            ("schemaVersion: 1\nname: x\nmodel: m\ndata: {target: y}\ntrain: {}\nsteps: []\n", [], "field 'steps' is not a known field"),
            (PipelineTests.pipeline.replacingOccurrences(of: "to: staging", with: "to: production\n  merge: true"), [], "refused for 'production'"),
            (PipelineTests.pipeline.replacingOccurrences(of: "to: staging", with: "to: qa"), [], "environment 'qa' is not in mreg.yaml"),
            (PipelineTests.pipeline.replacingOccurrences(of: "sex: categorical", with: "sex: categorical, beak: numeric"), [], "expected column 'beak' is missing"),
            (PipelineTests.pipeline.replacingOccurrences(of: "island: categorical", with: "island: numeric"), [], "column 'island' should be numeric"),
            (PipelineTests.pipeline.replacingOccurrences(of: "algorithm: logistic", with: "algorithm: svm"), [], "svm"),
            (PipelineTests.pipeline.replacingOccurrences(of: "C: [0.5, 2, 8]", with: "C: [-1]"), [], "C"),
            (PipelineTests.pipeline, ["--data", dir.sub("ragged.csv")], "line 2 has 1 field"),
            (PipelineTests.pipeline, ["--data", dir.sub("missing.csv")], "is not a file"),
        ]
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        for (i, (text, extra, expected)) in cases.enumerated() {
            dir.write("bad\(i).yaml", text)
            let r = mreg(["pipeline", "run", dir.sub("bad\(i).yaml")] + extra, in: reg)
            #expect(r.status == 2, "\(i): \(r.status) \(r.stderr)")
            #expect(r.isOneLineError, "\(i): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(i): \(r.stderr)")
        }
        #expect(mreg(["pipeline", "run", dir.sub("nope.yaml")], in: reg).stderr.contains("cannot read pipeline file"))
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
    }
}
