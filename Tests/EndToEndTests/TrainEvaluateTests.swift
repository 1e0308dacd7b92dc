import Foundation
import MregTestSupport
import Testing

/// The bundled penguins data.
let penguinsCSV: String = {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.path + "/Package.swift") { dir.deleteLastPathComponent() }
    return dir.path + "/templates/files/data/penguins.csv"
}()

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

@Suite(.serialized) struct TrainEvaluateTests {
    func registry(_ dir: TempDir) -> String {
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        return reg
    }

    @Test func trainCardEvaluateAndRecord() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        let t = mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--trials", "2", "--json"], in: reg)
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stderr == "", "progress must be quiet when not a terminal")
        let out = json(t.stdout)
        #expect(out["version"] as? String == "v1")
        #expect(((out["testMetrics"] as? [String: Any])?["accuracy"] as? Double ?? 0) > 0.9)
        #expect(git(["show", "--name-only", "--format=", "HEAD"], in: reg).stdout.split(separator: "\n").sorted() == [
            "models/penguins/model.yaml", "models/penguins/v1/baseline.json", "models/penguins/v1/card.md",
            "models/penguins/v1/metrics.json", "models/penguins/v1/model.json", "models/penguins/v1/version.yaml",
        ])
        let version = try String(contentsOfFile: reg + "/models/penguins/v1/version.yaml", encoding: .utf8)
        #expect(version.contains("kind: train"))
        #expect(version.contains("sha256: " + String(run("sha256sum", [penguinsCSV]).stdout.prefix(64))))
        #expect(version.contains("trials:"))
        let card = try String(contentsOfFile: reg + "/models/penguins/v1/card.md", encoding: .utf8)
        #expect(card.contains("owner: \"\""))
        #expect(card.contains("model-index:"))

        // Production gate fails on an incomplete card: exit 1, with one line per rule.
        let gate = mreg(["evaluate", "penguins@v1", "--data", penguinsCSV, "--env", "production"], in: reg)
        #expect(gate.status == 1)
        #expect(gate.stdout.contains("FAIL  card-complete"))
        #expect(gate.stdout.contains("pass  accuracy >= 0.85"))
        // Complete the card, and it passes.
        let set = mreg(["card", "penguins@v1", "--set", "owner=ada", "--set", "intended_use=demo", "--set", "limitations=none known",
                        "--set", "license=cc0-1.0"], in: reg)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("it is complete"))
        #expect(mreg(["card", "penguins@v1"], in: reg).stdout.contains("owner: ada"))
        let pass = mreg(["evaluate", "penguins@v1", "--data", penguinsCSV, "--env", "production", "--format", "json"], in: reg)
        #expect(pass.status == 0, "\(pass.stdout)")
        #expect(json(pass.stdout)["passed"] as? Bool == true)
        // JUnit and Markdown to files.
        let md = dir.sub("r.md"), xml = dir.sub("r.xml")
        #expect(mreg(["evaluate", "penguins@v1", "--data", penguinsCSV, "--env", "staging", "--format", "markdown", "--output", md], in: reg).status == 0)
        #expect(try String(contentsOfFile: md, encoding: .utf8).hasPrefix("## ✅ mreg evaluate penguins@v1"))
        #expect(mreg(["evaluate", "penguins@v1", "--data", penguinsCSV, "--format", "junit", "--output", xml], in: reg).status == 0)
        #expect(try String(contentsOfFile: xml, encoding: .utf8).contains("<testsuites"))
        // --record appends a file and never touches registered ones; verify still passes.
        let rec = mreg(["evaluate", "penguins@v1", "--data", penguinsCSV, "--record"], in: reg)
        #expect(rec.status == 0, "\(rec.stderr)")
        let added = git(["show", "--name-status", "--format=", "HEAD"], in: reg).stdout
        #expect(added.hasPrefix("A\tmodels/penguins/v1/evaluations/") && !added.contains("\n"))
        #expect(mreg(["verify"], in: reg).status == 0)
        #expect(git(["status", "--porcelain"], in: reg).stdout == "")
        #expect(git(["fsck", "--strict"], in: reg).status == 0)
        // A second version is judged against the champion once production serves v1.
        dir.write("reg/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins: {version: v1}\n")
        git(["commit", "-qam", "deploy v1"], in: reg)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--algorithm", "gbdt", "--param", "max_iter=5"], in: reg).status == 0)
        let champion = mreg(["evaluate", "penguins@v2", "--data", penguinsCSV, "--env", "production"], in: reg)
        #expect(champion.stdout.contains("champion v1"))
        #expect(champion.stdout.contains("accuracy drop vs champion"))
    }

    @Test func sameInputsGiveTheSameArtifact() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        for _ in 0..<2 { #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--algorithm", "mlp", "--param", "max_epochs=20", "--seed", "7"], in: reg).status == 0) }
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--algorithm", "mlp", "--param", "max_epochs=20", "--seed", "8"], in: reg).status == 0)
        let a = git(["rev-parse", "HEAD:models/penguins/v1/model.json"], in: reg).stdout
        let b = git(["rev-parse", "HEAD:models/penguins/v2/model.json"], in: reg).stdout
        let c = git(["rev-parse", "HEAD:models/penguins/v3/model.json"], in: reg).stdout
        #expect(a == b)
        #expect(a != c)
    }

    @Test func badTrainingInputExitsTwoAndRegistersNothing() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        dir.write("ragged.csv", "a,b,y\n1,2,x\n3,4\n")
        dir.write("empty.csv", "")
        dir.write("constant.csv", "a,y\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n")
        dir.write("quoted.csv", "a,y\n\"1,5\",x\n")
        let cases: [([String], String)] = [
            (["train", "m", "--data", dir.sub("ragged.csv"), "--target", "y"], "line 3 has 2 fields, expected 3"),
            (["train", "m", "--data", dir.sub("empty.csv"), "--target", "y"], "file is empty"),
            (["train", "m", "--data", dir.sub("constant.csv"), "--target", "y"], "constant"),
            (["train", "m", "--data", penguinsCSV, "--target", "specis"], "no column 'specis'"),
            (["train", "m", "--data", penguinsCSV, "--target", "species", "--task", "regression"], "species"),
            (["train", "m", "--data", penguinsCSV, "--target", "species", "--param", "C=-1"], "C"),
            (["train", "m", "--data", penguinsCSV, "--target", "species", "--param", "bogus=1"], "bogus"),
            (["train", "m", "--data", penguinsCSV, "--target", "species", "--algorithm", "svm"], "--algorithm"),
            (["train", "m", "--data", penguinsCSV, "--target", "species", "--trials", "0"], "--trials"),
            (["train", "m", "--data", dir.sub("nope.csv"), "--target", "y"], "is not a file"),
            (["train", "m", "--target", "y"], "--data is required"),
            (["evaluate", "m@v1", "--data", penguinsCSV], "model 'm' not found"),
            (["evaluate", "--changed", "m@v1"], "either"),
            (["evaluate", "x@v1", "--format", "pdf"], "--format"),
            (["card", "x@v1", "--set", "novalue"], "FIELD=VALUE"),
        ]
        for (args, expected) in cases {
            let r = mreg(args, in: reg)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(r.isOneLineError, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
        // Card fields mreg owns cannot be set.
        #expect(mreg(["train", "m", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        let own = mreg(["card", "m@v1", "--set", "model-index=x"], in: reg)
        #expect(own.status == 2 && own.stderr.contains("cannot be set"))
        // A corrupted artifact is refused when scored.
        dir.write("reg/models/m/v1/model.json", "{\"schemaVersion\": 1, \"format\": \"mreg-model\"")
        git(["commit", "-qam", "corrupt"], in: reg)
        let corrupt = mreg(["evaluate", "m@v1", "--data", penguinsCSV], in: reg)
        #expect(corrupt.status == 2 && corrupt.stderr.contains("model.json"), "\(corrupt.stderr)")
    }

    @Test func externalTrainer() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        let script = dir.write("train.sh", """
            #!/bin/sh
            echo "training on $MREG_DATA with seed $MREG_SEED and $MREG_PARAMS"
            echo '{"weights": [1, 2]}' > "$MREG_OUTPUT/model.bin"
            echo '{"accuracy": 0.88}' > "$MREG_OUTPUT/metrics.json"
            """)
        chmod(script, 0o755)
        let ok = mreg(["train", "ext", "--data", penguinsCSV, "--param", "depth=3", "--seed", "9", "--", script], in: reg)
        #expect(ok.status == 0, "\(ok.stderr)")
        let files = git(["show", "--name-only", "--format=", "HEAD"], in: reg).stdout
        #expect(files.contains("models/ext/v1/model.bin") && files.contains("models/ext/v1/train.log"))
        let log = git(["show", "HEAD:models/ext/v1/train.log"], in: reg).stdout
        #expect(log == "training on \(penguinsCSV) with seed 9 and {\"depth\":3}")
        #expect(mreg(["list", "ext", "--json"], in: reg).stdout.contains("0.88"))
        let failing = dir.write("fail.sh", "#!/bin/sh\necho half-done > \"$MREG_OUTPUT/model.bin\"\necho 'out of memory' >&2\nexit 3\n")
        chmod(failing, 0o755)
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        let bad = mreg(["train", "ext", "--", failing], in: reg)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("exited with status 3; nothing registered: out of memory"), "\(bad.stderr)")
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
    }

    @Test func changedModeJudgesABranchLikeCI() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        #expect(mreg(["card", "penguins@v1", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        // Nothing changed on main itself.
        #expect(mreg(["evaluate", "--changed"], in: reg).stdout.hasPrefix("no new versions"))
        // A pull-request branch: a new version and a production deployment of it.
        git(["checkout", "-qb", "pr"], in: reg)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--algorithm", "gbdt", "--param", "max_iter=10"], in: reg).status == 0)
        dir.write("reg/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels:\n  penguins: {version: v2}\n")
        git(["commit", "-qam", "deploy v2"], in: reg)
        let md = dir.sub("report.md"), xml = dir.sub("report.xml")
        let r = mreg(["evaluate", "--changed", "--data", penguinsCSV, "--format", "markdown", "--output", md, "--junit", xml], in: reg)
        #expect(r.status == 1, "v2's card is incomplete, so production's gate fails: \(r.stderr)")
        let report = try String(contentsOfFile: md, encoding: .utf8)
        #expect(report.contains("penguins@v2 (new version)"))
        #expect(report.contains("penguins in production: none -> v2"))
        #expect(report.contains("❌ fail"))
        // A hand edit is judged like `mreg promote`: production only after staging served it.
        #expect(report.contains("promote from staging"))
        #expect(try String(contentsOfFile: xml, encoding: .utf8).contains("failures=\"2\""))
        #expect(mreg(["card", "penguins@v2", "--set", "owner=a", "--set", "intended_use=b", "--set", "limitations=c", "--set", "license=d"], in: reg).status == 0)
        let skipped = mreg(["evaluate", "--changed", "--format", "json"], in: reg)
        #expect(skipped.status == 1, "\(skipped.stdout)")
        #expect(skipped.stdout.contains("staging has never served v2"))
        // Staging first: passes. Without data, recorded test metrics are used and the report says so.
        dir.write("reg/deploy/production.yaml", "schemaVersion: 1\nenvironment: production\nmodels: {}\n")
        dir.write("reg/deploy/staging.yaml", "schemaVersion: 1\nenvironment: staging\nmodels:\n  penguins: {version: v2}\n")
        git(["commit", "-qam", "deploy v2 to staging"], in: reg)
        let again = mreg(["evaluate", "--changed", "--format", "json"], in: reg)
        #expect(again.status == 0, "\(again.stdout)")
        #expect(again.stdout.contains("recorded test metrics"))
        // A detached HEAD, as CI checks out a pull request, reads fine.
        git(["checkout", "-q", "--detach"], in: reg)
        #expect(mreg(["evaluate", "--changed", "--base", "main"], in: reg).status == 0)
    }

    @Test func oneBadCellIsAnErrorNotANewCategoricalFeature() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        var lines = try String(contentsOfFile: penguinsCSV, encoding: .utf8).split(separator: "\n").map(String.init)
        for i in [7, 9] {  // bill_depth_mm of lines 8 and 10
            lines[i] = lines[i].split(separator: ",", omittingEmptySubsequences: false).enumerated()
                .map { $0.offset == 3 ? "n/a?" : String($0.element) }.joined(separator: ",")
        }
        let csv = dir.write("odd.csv", lines.joined(separator: "\n") + "\n")
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        let r = mreg(["train", "penguins", "--data", csv, "--target", "species"], in: reg)
        #expect(r.status == 2 && r.isOneLineError, "\(r.stderr)")
        #expect(r.stderr.contains("odd.csv: column 'bill_depth_mm' is numeric except for 2 of"), "\(r.stderr)")
        #expect(r.stderr.contains("line 8 'n/a?'") && r.stderr.contains("--na-value") && r.stderr.contains("--feature-type bill_depth_mm=categorical"))
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head, "nothing registered")
        // The two ways on: the file's missing-value spelling, or the declared type.
        let na = mreg(["train", "penguins", "--data", csv, "--target", "species", "--na-value", "n/a?", "--json"], in: reg)
        #expect(na.status == 0, "\(na.stderr)")
        #expect(git(["show", "HEAD:models/penguins/model.yaml"], in: reg).stdout.contains("bill_depth_mm\n    type: numeric"), "\(git(["show", "HEAD:models/penguins/model.yaml"], in: reg).stdout)")
        let typed = mreg(["train", "penguins", "--data", csv, "--feature-type", "bill_depth_mm=categorical"], in: reg)
        #expect(typed.status == 0, "\(typed.stderr)")
        let bad = mreg(["train", "penguins", "--data", csv, "--feature-type", "bill_depth_mm=text"], in: reg)
        #expect(bad.status == 2 && bad.stderr.contains("COLUMN=numeric or COLUMN=categorical"))
    }

    @Test func aPipelineSchemaDeclaresTypesAndTrainsOnEveryColumn() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        try FileManager.default.copyItem(atPath: penguinsCSV, toPath: dir.sub("penguins.csv"))
        dir.write("p.yaml", """
            schemaVersion: 1
            name: partial
            model: penguins
            data:
              path: penguins.csv
              target: species
              schema: {species: categorical, island: categorical, bill_length_mm: numeric}
              allowExtraColumns: true
            train: {algorithm: logistic}

            """)
        let dry = mreg(["pipeline", "run", dir.sub("p.yaml"), "--dry-run"], in: reg)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("7 features: island (categorical), bill_length_mm (numeric), bill_depth_mm (numeric), flipper_length_mm (numeric), body_mass_g (numeric), sex (categorical), year (numeric)"), "\(dry.stdout)")
        let real = mreg(["pipeline", "run", dir.sub("p.yaml")], in: reg)
        #expect(real.status == 0, "\(real.stdout) \(real.stderr)")
        #expect(git(["show", "HEAD:models/penguins/model.yaml"], in: reg).stdout.contains("flipper_length_mm"))
    }

    @Test func aModelYAMLThatDoesNotParseIsNeverRewritten() throws {
        let dir = TempDir("e2e")
        defer { dir.remove() }
        let reg = registry(dir)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species"], in: reg).status == 0)
        let path = reg + "/models/penguins/model.yaml"
        let edited = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "schemaVersion: 1\n", with: "schemaVersion: 1\nowner: risk-team\ndescription: fraud\ncolour: blue\n")
        try edited.write(toFile: path, atomically: true, encoding: .utf8)
        git(["commit", "-qam", "hand edit with a typo"], in: reg)
        let head = git(["rev-parse", "HEAD"], in: reg).stdout
        dir.write("art/model.bin", "x")
        for args in [["train", "penguins", "--data", penguinsCSV], ["register", "penguins", "--from", dir.sub("art")]] {
            let r = mreg(args, in: reg)
            #expect(r.status == 2 && r.isOneLineError, "\(args[0]): \(r.stderr)")
            #expect(r.stderr.contains("models/penguins/model.yaml") && r.stderr.contains("colour"), "\(r.stderr)")
        }
        #expect(git(["rev-parse", "HEAD"], in: reg).stdout == head)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == edited)
    }
}
