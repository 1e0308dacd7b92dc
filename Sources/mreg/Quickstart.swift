import ArgumentParser
import Foundation
import MregCore
import MregGit
import MregRegistry
import MregTemplates

struct Quickstart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole mreg flow on the bundled penguins data in a new folder.",
        discussion: """
            Creates DIR/registry (a Git repository), copies the penguins data to DIR/data, trains
            a classifier with three tuning trials, completes its model card, evaluates it against
            the production gate (accuracy >= 0.85), shows the version, promotes it to staging and
            production and prints the status. Each step prints the command that does the same by
            hand.

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
        print("\nDone. The registry is a Git repository: cd \(registryDir) && git log --oneline")
    }

    private func step(_ n: Int, _ title: String, _ command: String) {
        print("\n== \(n). \(title)\n$ \(command)")
    }

    /// `mreg init`, with a local identity for the demo repository when none is configured anywhere.
    private func initialize(_ path: String, environment env: inout [String: String]) throws -> InitResult {
        do {
            return try Registry.initialize(at: path, name: "penguins-demo", environment: env)
        } catch GitError.noIdentity {
            FileHandle.standardError.write(Data("note: no Git identity is configured; the demo commits as 'mreg quickstart <quickstart@example.com>'\n".utf8))
            env["GIT_AUTHOR_NAME"] = "mreg quickstart"
            env["GIT_AUTHOR_EMAIL"] = "quickstart@example.com"
            env["GIT_COMMITTER_NAME"] = "mreg quickstart"
            env["GIT_COMMITTER_EMAIL"] = "quickstart@example.com"
            try? FileManager.default.removeItem(atPath: path)
            let result = try Registry.initialize(at: path, name: "penguins-demo", environment: env)
            let repo = try Repository.open(at: path)
            try repo.setConfigString("user.name", "mreg quickstart")
            try repo.setConfigString("user.email", "quickstart@example.com")
            return result
        }
    }
}
