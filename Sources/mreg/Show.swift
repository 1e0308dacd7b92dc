import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a version: lineage, files with checksums, metrics, card, where it is deployed.",
        discussion: """
            Examples:
              mreg show penguins@v3
              mreg show penguins@production --json
            """)

    @OptionGroup var options: RegistryOptions

    @Argument(help: "MODEL@VERSION or MODEL@ENV.")
    var reference: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let detail = try options.open().show(try ModelReference(parsing: reference))
        let r = detail.record
        if json {
            printJSON(detail.json)
            return
        }
        var out = "\(r.model)@\(r.version)\n"
        out += "  created      \(r.created) by \(r.author)\n"
        out += "  source       \(r.source.kind)" + (r.source.command.map { ": \($0)" } ?? "") + "\n"
        if let m = r.source.message { out += "  message      \(m)\n" }
        if let t = r.task { out += "  task         \(t)" + (r.target.map { " (target \($0))" } ?? "") + "\n" }
        if let a = r.algorithm { out += "  algorithm    \(a)" + (r.source.trainerVersion.map { " (trainer \($0))" } ?? "") + "\n" }
        if let s = r.seed { out += "  seed         \(s)\n" }
        if let c = r.source.codeCommit { out += "  code commit  \(c)\n" }
        if case .object(let p) = r.params, !p.isEmpty {
            out += "  params       " + p.keys.sorted().map { "\($0)=\(YAMLNode.scalar(p[$0]!))" }.joined(separator: " ") + "\n"
        }
        out += "  deployed     " + (detail.environments.isEmpty ? "nowhere on main" : detail.environments.joined(separator: ", ")) + "\n"
        if !r.data.isEmpty {
            out += "data\n"
            for d in r.data {
                out += "  \(d.role.padding(toLength: 11, withPad: " ", startingAt: 0))  \(d.path)  sha256 \(d.sha256.prefix(16))…"
                    + (d.rows.map { "  \($0) rows" } ?? "") + (d.columns.isEmpty ? "" : "  \(d.columns.count) columns") + "\n"
            }
        }
        if !r.trials.isEmpty {
            out += "trials (\(r.trials.count), best #\((r.bestTrial ?? 0) + 1))\n"
        }
        out += "files\n"
        for f in r.files {
            out += "  \(f.path.padding(toLength: max(14, f.path.count), withPad: " ", startingAt: 0))  \(String(f.size).leftPad(9)) B  sha256 \(f.sha256)\n"
        }
        if let metrics = detail.metrics, !metrics.splits.isEmpty {
            out += "metrics\n"
            for split in metrics.splits.keys.sorted() {
                out += "  \(split): " + metrics.splits[split]!.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }.joined(separator: ", ") + "\n"
            }
        }
        if !detail.evaluations.isEmpty {
            out += "evaluations\n" + detail.evaluations.map { "  \($0)\n" }.joined()
        }
        if let card = detail.card {
            let missing = card.missingFields
            out += "card         " + (missing.isEmpty ? "complete" : "incomplete (missing \(missing.joined(separator: ", ")))") + "\n"
        }
        print(out, terminator: "")
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

extension VersionDetail {
    var json: JSONValue {
        let r = record
        var o: [String: JSONValue] = [
            "model": .string(r.model), "version": .string(r.version), "created": .string(r.created),
            "author": .string(r.author), "params": r.params, "commit": .string(commit.hex),
            "environments": .array(environments.map(JSONValue.string)),
            "evaluations": .array(evaluations.map(JSONValue.string)),
            "files": .array(r.files.map { ["path": .string($0.path), "size": .number(Double($0.size)), "sha256": .string($0.sha256)] }),
            "data": .array(r.data.map { d in
                ["role": .string(d.role), "path": .string(d.path), "sha256": .string(d.sha256),
                 "rows": d.rows.map { .number(Double($0)) } ?? .null, "columns": .array(d.columns.map(JSONValue.string))]
            }),
        ]
        var source: [String: JSONValue] = ["kind": .string(r.source.kind)]
        if let v = r.source.command { source["command"] = .string(v) }
        if let v = r.source.message { source["message"] = .string(v) }
        if let v = r.source.trainer { source["trainer"] = .string(v) }
        if let v = r.source.trainerVersion { source["trainerVersion"] = .string(v) }
        if let v = r.source.codeCommit { source["codeCommit"] = .string(v) }
        o["source"] = .object(source)
        if let v = r.task { o["task"] = .string(v) }
        if let v = r.target { o["target"] = .string(v) }
        if let v = r.algorithm { o["algorithm"] = .string(v) }
        if let v = r.seed { o["seed"] = .number(Double(v)) }
        if !r.trials.isEmpty {
            o["trials"] = .array(r.trials.map { t in
                ["params": t.params, "metrics": .object(t.metrics.mapValues(JSONValue.number)), "seconds": .number(t.seconds)]
            })
            o["bestTrial"] = r.bestTrial.map { .number(Double($0)) } ?? .null
        }
        o["metrics"] = metrics?.json["splits"] ?? .null
        if let card {
            o["card"] = ["complete": .bool(card.missingFields.isEmpty), "missing": .array(card.missingFields.map(JSONValue.string))]
        }
        return .object(o)
    }
}
