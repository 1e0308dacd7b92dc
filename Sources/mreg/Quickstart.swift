import ArgumentParser
import Foundation
import MregCore
import MregGit
import MregRegistry
import MregTemplates
import MregML

struct Quickstart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quickstart",
        abstract: "Run the whole mreg flow on the bundled penguins data in a new folder.",
        discussion: """
            Creates DIR/registry (a Git repository), copies the penguins data to DIR/data, trains
            a classifier with three tuning trials, completes its model card, evaluates it against
            the production gate (accuracy >= 0.85), promotes it to staging and production and
            prints the status. Then a host serves it: mreg serve plus a reconciler that follows
            main; it answers predictions, switches to a second version after its promotion, and
            mreg monitor reads the captured traffic: no drift for rows like the training data,
            drift for shifted ones. Each step prints the command that does the same by hand.

            Example:
              mreg quickstart /tmp/mreg-demo
            """)

    @Argument(help: "An empty or new folder for the demo.")
    var directory: String = "./mreg-quickstart"

    func run() throws {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: directory, relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath)).standardizedFileURL.path
        if let existing = try? fm.contentsOfDirectory(atPath: root), !existing.isEmpty {
            throw RegistryError.invalidInput("'\(directory)' is not empty; remove it or name another folder")
        }
        guard let bundled = Templates.path("data/penguins.csv") else {
            throw RegistryError.invalidInput("the bundled penguins data is missing from this mreg build")
        }
        let registryDir = root + "/registry", data = root + "/data/penguins-train.csv", holdout = root + "/data/penguins-holdout.csv"
        try fm.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
        try fm.copyItem(atPath: bundled, toPath: root + "/data/penguins.csv")
        // Every fifth row is kept away from training, for an honest evaluation.
        let lines = try String(contentsOfFile: bundled, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        let rows = lines.dropFirst().enumerated()
        try ([lines[0]] + rows.filter { $0.offset % 5 != 4 }.map(\.element)).joined(separator: "\n").appending("\n").write(toFile: data, atomically: true, encoding: .utf8)
        try ([lines[0]] + rows.filter { $0.offset % 5 == 4 }.map(\.element)).joined(separator: "\n").appending("\n").write(toFile: holdout, atomically: true, encoding: .utf8)
        print("Data: \(data) (\(rows.count - rows.count / 5) rows) and \(holdout) (\(rows.count / 5) rows, never trained on)")

        step(1, "Create a registry", "mreg init \(registryDir) --name penguins-demo")
        var env = ProcessInfo.processInfo.environment
        let result = try initialize(registryDir, environment: &env)
        print("Initialized registry '\(result.name)' (commit \(result.commit.short)): " + result.files.joined(separator: ", "))
        let registry = try Registry.discover(explicit: registryDir, environment: env)

        step(2, "Train penguins: logistic regression, 3 tuning trials, the best kept", "mreg train penguins --data \(data) --target species --trials 3")
        var options = TrainOptions(model: "penguins", data: data, target: "species")
        options.trials = 3
        options.command = "mreg train penguins --data \(data) --target species --trials 3"
        options.message = "quickstart"
        let trained = try registry.train(options)
        let test = trained.outcome.metrics["test"] ?? [:]
        print("Registered penguins@\(trained.registration.version) (commit \(trained.registration.commit.short)); trials:")
        for (i, t) in trained.outcome.trials.enumerated() {
            let params = t.params.keys.sorted().map { "\($0)=\(YAMLNode.scalar(t.params[$0]!))" }.joined(separator: " ")
            print("  #\(i + 1) \(params): validation accuracy \(fmt(t.validationMetrics["accuracy"] ?? .nan))\(i == trained.outcome.bestTrial ? "  <- best" : "")")
        }
        print("Test accuracy \(fmt(test["accuracy"] ?? .nan)), macro F1 \(fmt(test["f1_macro"] ?? .nan))")

        step(3, "Complete the model card (owner, intended use, limitations, license)",
             "mreg card penguins@v1 --set owner=... --set intended_use=... --set limitations=... --set license=cc0-1.0")
        let version = trained.registration.version
        let ref = ModelReference(model: "penguins", target: .version(version))
        let card = try registry.setCard(ref, fields: [
            ("owner", "quickstart@example.com"),
            ("intended_use", "Demonstrates mreg; identifies penguin species from bill, flipper and body measurements."),
            ("limitations", "Palmer Archipelago 2007-2009 only; not for other regions, years or species."),
            ("license", "cc0-1.0"),
        ], message: "Complete the card")
        print("Card complete (commit \(card.commit.short))")

        step(4, "Evaluate on the holdout rows against the production gate", "mreg evaluate penguins@\(version) --data \(holdout) --env production")
        let report = try registry.evaluate(ref, data: holdout, environment: "production")
        print(Reports.render(report, as: .text), terminator: "")

        step(5, "Show the version", "mreg show penguins@\(version)")
        print("(run it in \(registryDir))")
        let detail = try registry.show(ref)
        print("penguins@\(version): \(detail.record.algorithm ?? "-") params "
              + (detail.record.params.objectValue ?? [:]).keys.sorted().map { "\($0)=\(YAMLNode.scalar(detail.record.params[$0]!))" }.joined(separator: " "))
        for f in detail.record.files { print("  \(f.path)  \(f.size) B  sha256 \(f.sha256.prefix(16))…") }
        if !report.passed { throw CheckFailed(message: "the quickstart model did not pass the production gate") }

        for (n, env) in [(6, "staging"), (7, "production")] {
            step(n, "Promote to \(env): a branch with one commit, merged here (with a Git host: a pull request)",
                 "mreg promote penguins@\(version) --to \(env) --merge")
            var request = PromotionRequest(model: "penguins", version: version, environment: env)
            request.message = "quickstart"
            let promotion = try registry.merge(try registry.promote(request), request: request)
            print("\(promotion.title): branch \(promotion.branch), merged into main at \(promotion.merged?.short ?? "?")")
            for g in promotion.gates { print("  \(g.passed ? "pass" : "FAIL")  \(g.rule): \(g.detail)") }
        }

        step(8, "What main says to serve", "mreg status")
        for e in try registry.status() {
            for m in e.models {
                print("  \(e.environment.padding(toLength: 11, withPad: " ", startingAt: 0)) \(m.model) \(m.deployment.text)  since \(m.since?.id.short ?? "-")  gates \(m.passed ? "pass" : "FAIL")")
            }
        }
        try serveReconcileAndMonitor(registry: registry, registryDir: registryDir, root: root, holdout: holdout, data: data, first: version)
        print("\nDone. The registry is a Git repository: cd \(registryDir) && git log --oneline")
    }

    /// Steps 9-13: a host serves what main says, a new version reaches it through a promotion, and
    /// captured traffic is checked for drift.
    private func serveReconcileAndMonitor(registry: Registry, registryDir: String, root: String, holdout: String, data: String, first: String) throws {
        let host = QuickstartHost(root: root)
        defer { host.stop() }
        step(9, "Serve production on this host: mreg serve, and a reconciler that makes it serve what main says",
             "mreg serve --store \(host.store) --port 0 --capture \(host.capture) --capture-percent 100 &\n"
                + "$ mreg reconcile --repo \(registryDir) --env production --host quickstart --server URL --store \(host.store) --interval 1s &")
        try host.startServer()
        try host.startReconciler(registry: registryDir, environment: "production")
        let waited = try host.waitForVersion("penguins", first)
        print("Server at \(host.url); the reconciler put penguins@\(first) in the store and loaded it in \(String(format: "%.1f", waited.seconds)) s")

        step(10, "Predict (Open Inference Protocol)", "curl -X POST \(host.url)/v2/models/penguins/infer -d '{\"inputs\": [...]}'")
        let spec = try registry.head().modelSpec("penguins")
        let features = spec.features.map { (name: $0.name, numeric: $0.type == "numeric") }
        let table = try Table.parseCSV(try Data(contentsOf: URL(fileURLWithPath: holdout)), source: "penguins-holdout.csv")
        let rows: [[String: String?]] = (0..<table.rowCount).map { r in
            Dictionary(uniqueKeysWithValues: table.columnNames.map { ($0, table.cell(row: r, column: $0)) })
        }
        let sample = Array(rows.prefix(4))
        let answer = try host.predict("penguins", rows: sample, features: features, id: "quickstart-1")
        for (row, label) in zip(sample, answer.labels) {
            print("  \(row["island"].flatMap { $0 } ?? "?"), bill \(row["bill_length_mm"].flatMap { $0 } ?? "NA") mm -> \(label) (truth: \(row["species"].flatMap { $0 } ?? "?"), served by \(answer.version))")
        }

        step(11, "A new version reaches the host through promotions merged into main",
             "mreg train penguins --data ... --algorithm gbdt && mreg card ... && mreg promote penguins@v2 --to staging --merge && mreg promote penguins@v2 --to production --merge")
        var options = TrainOptions(model: "penguins", data: data, target: "species")
        options.algorithm = .gbdt
        options.params = ["max_iter": "60"]
        options.message = "quickstart: a second version"
        let second = try registry.train(options).registration.version
        _ = try registry.setCard(ModelReference(model: "penguins", target: .version(second)), fields: [
            ("owner", "quickstart@example.com"), ("intended_use", "Demonstrates mreg."), ("limitations", "Palmer data only."),
            ("license", "cc0-1.0"),
        ], message: nil)
        for env in ["staging", "production"] {
            var request = PromotionRequest(model: "penguins", version: second, environment: env)
            request.message = "quickstart"
            let p = try registry.merge(try registry.promote(request), request: request)
            print("\(p.title): merged into main at \(p.merged?.short ?? "?")" + (p.forced ? " (forced past: \(p.gates.filter { !$0.passed }.map(\.rule).joined(separator: ", ")))" : ""))
        }
        let swapped = try host.waitForVersion("penguins", second)
        print("The host switched penguins \(first) -> \(second) \(String(format: "%.1f", swapped.seconds)) s after the merge; "
              + "\(swapped.requests) requests sent meanwhile, \(swapped.failures) failed")

        step(12, "Capture traffic and watch for drift: first rows like the training data",
             "mreg monitor penguins@production --capture \(host.capture) --since TIME")
        let inStart = Int64(Date().timeIntervalSince1970 * 1000)
        var sent = 0
        for (i, chunk) in stride(from: 0, to: rows.count, by: 8).map({ Array(rows[$0..<min($0 + 8, rows.count)]) }).enumerated() {
            _ = try host.predict("penguins", rows: chunk, features: features, id: "normal-\(i)")
            sent += 1
        }
        host.waitForCapture(records: sent + 1)
        let normal = try registry.monitor(MonitorOptions(reference: ModelReference(model: "penguins", target: .environment("production")),
                                                         captures: [host.capture], sinceMillis: inStart))
        print(normal.render(.text), terminator: "")

        step(13, "Then rows from a shifted world (longer bills and flippers, heavier birds)",
             "mreg monitor penguins@production --capture \(host.capture) --since TIME")
        Thread.sleep(forTimeInterval: 0.01)
        let shiftStart = Int64(Date().timeIntervalSince1970 * 1000)
        let shifted: [[String: String?]] = rows.map { row in
            var r = row
            for (column, delta) in [("bill_length_mm", 9.0), ("flipper_length_mm", 25.0), ("body_mass_g", 1200.0)] {
                if let v = (row[column] ?? nil).flatMap(Double.init) { r[column] = String(v + delta) }
            }
            return r
        }
        var shiftedSent = 0
        for (i, chunk) in stride(from: 0, to: shifted.count, by: 8).map({ Array(shifted[$0..<min($0 + 8, shifted.count)]) }).enumerated() {
            _ = try host.predict("penguins", rows: chunk, features: features, id: "shifted-\(i)")
            shiftedSent += 1
        }
        host.waitForCapture(records: sent + shiftedSent + 1)
        let drifted = try registry.monitor(MonitorOptions(reference: ModelReference(model: "penguins", target: .environment("production")),
                                                          captures: [host.capture], sinceMillis: shiftStart))
        print(drifted.render(.text), terminator: "")
        print("(mreg monitor exits 1 on drift; with --on-drift \"mreg pipeline run retrain.yaml --data NEW.csv\" it proposes a retrained model)")
        host.stop()
    }

    private func step(_ n: Int, _ title: String, _ command: String) {
        print("\n== \(n). \(title)\n$ \(command)")
    }

    /// `mreg init`, with a local identity for the demo repository when none is configured anywhere.
    private func initialize(_ path: String, environment env: inout [String: String]) throws -> InitResult {
        do {
            return try Registry.initialize(at: path, name: "penguins-demo", placement: .newRepository, environment: env)
        } catch GitError.noIdentity {
            FileHandle.standardError.write(Data("note: no Git identity is configured; the demo commits as 'mreg quickstart <quickstart@example.com>'\n".utf8))
            env["GIT_AUTHOR_NAME"] = "mreg quickstart"
            env["GIT_AUTHOR_EMAIL"] = "quickstart@example.com"
            env["GIT_COMMITTER_NAME"] = "mreg quickstart"
            env["GIT_COMMITTER_EMAIL"] = "quickstart@example.com"
            try? FileManager.default.removeItem(atPath: path)
            let result = try Registry.initialize(at: path, name: "penguins-demo", placement: .newRepository, environment: env)
            let repo = try Repository.open(at: path)
            try repo.setConfigString("user.name", "mreg quickstart")
            try repo.setConfigString("user.email", "quickstart@example.com")
            return result
        }
    }
}
