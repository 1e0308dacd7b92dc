import ArgumentParser
import Foundation
import MregCore
import MregRegistry

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove the registry intact: checksums, immutability over history, valid manifests.",
        discussion: """
            Exits 1 with one line per problem: a file whose sha256 or size differs from
            version.yaml, a file of a registered version changed by a later commit (card.md
            excepted), an invalid file, a manifest naming a version that does not exist.

            Example (in CI):
              mreg verify
            """)

    @OptionGroup var options: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let report = try options.open().verify()
        if json {
            printJSON([
                "ok": .bool(report.ok), "commit": .string(report.commit.hex), "models": .number(Double(report.models)),
                "versions": .number(Double(report.versions)), "files": .number(Double(report.files)),
                "commitsChecked": .number(Double(report.commitsChecked)),
                "problems": .array(report.problems.map { ["path": .string($0.path), "message": .string($0.message)] }),
            ])
        } else if report.ok {
            print("ok: \(report.models) models, \(report.versions) versions, \(report.files) files, \(report.commitsChecked) commits checked")
        } else {
            for p in report.problems { print(p.description) }
        }
        if !report.ok {
            throw CheckFailed(message: json ? nil : "verify found \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
        }
    }
}
