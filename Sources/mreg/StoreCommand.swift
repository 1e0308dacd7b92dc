import ArgumentParser
import Foundation
import MregRegistry

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The artifact store named in mreg.yaml (docs/artifacts.md).",
        subcommands: [StorePush.self])
}

struct StorePush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Fill the store with every version on main, and each version's folder for engines that load by URI.",
        discussion: """
            Every file of every version on main becomes a content object (sha256/ab/…; sent once, skipped
            when present with the right size) and is placed in the version's folder models/MODEL/vN/, which
            `mreg render --target kserve` names as storageUri. Idempotent: run it after configuring a
            store, or in CI after each merge. Credentials: docs/artifacts.md.

            Example:
              mreg store push
            """)

    @OptionGroup var options: RegistryOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let registry = try options.open()
        let scratch = NSTemporaryDirectory() + "mreg-store-push-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let report = try await registry.pushToStore(environment: ProcessInfo.processInfo.environment, scratch: scratch)
        if json { return try printReport(report) }
        print("\(report.store): \(report.versions) versions, \(report.uploaded) objects sent, \(report.present) already there")
    }
}
