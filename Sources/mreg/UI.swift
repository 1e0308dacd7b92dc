import ArgumentParser
import Foundation
import MregCore
import MregGit
import MregRegistry
import MregReconciler
import MregUI

struct UI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Show the registry as web pages: models, versions, comparisons, environments, drift.",
        discussion: """
            A read-only site over a local registry (--registry) or a remote one (--repo URL, kept in a \
            bare mirror that is fetched again when main moves). Binds 127.0.0.1 unless --host names \
            another address together with --allow-remote. Prints 'listening on http://HOST:PORT'.
            With --export DIR, writes the same pages as static files with relative links instead.

            Examples:
              mreg ui
              mreg ui --repo https://git.example.com/ml/registry.git --hosts http://10.0.0.5:9090
              mreg ui --monitor-report drift.json --capture penguins@production=/var/lib/mreg/capture
              mreg ui --export public/
            """)

    @OptionGroup var options: RegistryOptions

    @Option(help: "A remote registry to mirror and show instead of a local one.")
    var repo: String?

    @Option(help: "The branch of --repo to show.")
    var branch = "main"

    @Option(help: "Where --repo's bare mirror lives; default: a folder under ~/.cache/mreg/ui named after the URL.")
    var mirror: String?

    @Option(help: "The address to bind.")
    var host = "127.0.0.1"

    @Option(help: "The port (0: any free one).")
    var port = 8300

    @Flag(help: "Allow --host to be an address other than loopback (the pages are not access-controlled).")
    var allowRemote = false

    @Option(parsing: .upToNextOption, help: "Reconciler status URLs (their --listen address) shown on the environment pages.")
    var hosts: [String] = []

    @Option(parsing: .upToNextOption, help: "`mreg monitor --format json` output files shown on the drift pages.")
    var monitorReport: [String] = []

    @Option(parsing: .upToNextOption, help: "MODEL@VERSION=DIR: compute a drift report from a capture folder.")
    var capture: [String] = []

    @Option(help: "Seconds between fetches of --repo and polls of --hosts.")
    var refresh: Double = 30

    @Option(help: "Write the pages as static files into this folder and exit.")
    var export: String?

    @Flag(help: "Print the export report as JSON.")
    var json = false

    func validate() throws {
        if repo != nil && options.registry != nil { throw ValidationError("give --registry or --repo, not both") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if !UIServer.isLoopback(host) && !allowRemote {
            throw ValidationError("--host '\(host)' is not loopback; the pages have no access control: add --allow-remote to serve them there")
        }
        if refresh < 1 { throw ValidationError("--refresh must be at least 1 second") }
        for c in capture where !c.contains("=") { throw ValidationError("--capture '\(c)' must be MODEL@VERSION=DIR") }
    }

    func run() async throws {
        let site = try openSite()
        if let export {
            let report = try site.export(to: export)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                FileHandle.standardOutput.write(try encoder.encode(report) + Data("\n".utf8))
            } else {
                print("exported \(report.pages) pages (\(report.bytes) bytes) to \(report.directory)")
                for (path, status) in report.failed.sorted(by: { $0.key < $1.key }) { printError("page '\(path)' answered \(status)") }
            }
            if !report.failed.isEmpty { throw CheckFailed(message: "\(report.failed.count) pages could not be rendered") }
            return
        }
        if !UIServer.isLoopback(host) {
            printError("warning: serving on '\(host)', reachable from other machines; the pages have no access control")
        }
        let mirrorSpec = repo.map { UIMirror(url: $0, path: mirrorPath($0), branch: branch) }
        let server = UIServer(site: SharedSite(site), host: host, port: port, mirror: mirrorSpec, hosts: hosts, refreshSeconds: refresh)
        try await server.run(
            onListening: { address in FileHandle.standardOutput.write(Data("listening on \(address)\n".utf8)) },
            onRefreshError: { printError($0) })
    }

    /// The registry (local, or the mirror of --repo fetched now) with the drift reports asked for.
    func openSite() throws -> UISite {
        let registry: Registry
        if let repo {
            let m = UIMirror(url: repo, path: mirrorPath(repo), branch: branch)
            try m.prepare()
            registry = try Registry.discover(explicit: m.path)
        } else {
            registry = try options.open()
        }
        let site = UISite(registry: registry, driftReports: try monitorReport.map { try DriftReport.read($0) }, export: export != nil)
        for c in capture {
            let parts = c.split(separator: "=", maxSplits: 1).map(String.init)
            try site.addDrift(reference: parts[0], capture: parts.count > 1 ? parts[1] : "")
        }
        if export != nil, !hosts.isEmpty {
            site.hosts = (Date(), try blocking { await FleetStatus.fetch(hosts, timeout: 2) })
        }
        return site
    }

    func mirrorPath(_ url: String) -> String {
        if let mirror { return mirror }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()
        return home + "/.cache/mreg/ui/" + String(SHA256.hex(Data(url.utf8)).prefix(16)) + ".git"
    }
}
