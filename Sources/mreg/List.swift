import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List models, or the versions of one model.",
        discussion: """
            Without a model: each model with its version count, latest version and what each
            environment serves on main. With a model: its versions with key metrics.

            Examples:
              mreg list
              mreg list penguins --json
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "A model whose versions to list.")
    var model: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let registry = try options.open()
        if let model {
            try listVersions(registry, try Names.model(model))
            return
        }
        let models = try registry.listModels()
        if json {
            printJSON(["models": .array(models.map { m in
                var deployments = [String: JSONValue]()
                for (env, d) in m.deployments { deployments[env] = d?.json ?? .null }
                return [
                    "name": .string(m.name), "task": m.task.map(JSONValue.string) ?? .null,
                    "versions": .number(Double(m.versionCount)), "latest": m.latest.map(JSONValue.string) ?? .null,
                    "deployments": .object(deployments),
                ]
            })])
            return
        }
        if models.isEmpty {
            print("No models yet. Register one with `mreg register MODEL --from DIR` or `mreg train`.")
            return
        }
        let envs = models.first?.deployments.map(\.environment) ?? []
        print(table(
            ["MODEL", "TASK", "VERSIONS", "LATEST"] + envs.map { $0.uppercased() },
            models.map { m in
                [m.name, m.task ?? "-", String(m.versionCount), m.latest ?? "-"] + m.deployments.map { $0.deployment?.text ?? "-" }
            }))
    }

    private func listVersions(_ registry: Registry, _ model: String) throws {
        let versions = try registry.listVersions(model)
        if json {
            printJSON(["model": .string(model), "versions": .array(versions.map { v in
                [
                    "version": .string(v.version), "created": .string(v.created), "author": .string(v.author),
                    "source": .string(v.source), "metrics": .object(v.metrics.mapValues(JSONValue.number)),
                    "environments": .array(v.environments.map(JSONValue.string)),
                ]
            })])
            return
        }
        let keys = keyMetrics(versions.map(\.metrics))
        print(table(
            ["VERSION", "CREATED", "SOURCE"] + keys.map { $0.uppercased() } + ["DEPLOYED"],
            versions.map { v in
                [v.version, v.created, v.source] + keys.map { k in v.metrics[k].map(fmt) ?? "-" }
                    + [v.environments.isEmpty ? "-" : v.environments.joined(separator: ", ")]
            }))
    }
}

/// The metrics worth a column: the usual headline ones that any version has, else the first few.
func keyMetrics(_ all: [[String: Double]]) -> [String] {
    let present = Set(all.flatMap(\.keys))
    let preferred = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "r2", "rmse", "mae"].filter(present.contains)
    return preferred.isEmpty ? Array(present.sorted().prefix(4)) : Array(preferred.prefix(4))
}
