import Foundation
import MregCore
import MregRegistry

/// What `mreg ui --export DIR` wrote.
public struct ExportReport: Codable, Sendable, Equatable {
    public var directory: String
    public var pages: Int
    public var bytes: Int
    /// Pages that could not be rendered (their error page was written in their place), by path.
    public var failed: [String: String]
}

extension UISite {
    /// Every page's site path: overview, stylesheet, models, versions, default comparisons,
    /// environments and drift reports.
    public func allPaths() throws -> [String] {
        var paths = ["/", "/style.css", "/drift/"]
        let snap = try registry.head()
        for model in try snap.modelNames() {
            paths.append("/models/\(model)/")
            let versions = try snap.versionNames(model)
            if !versions.isEmpty { paths.append("/models/\(model)/compare/") }
            paths += versions.map { "/models/\(model)/\($0)/" }
        }
        paths += try registry.main().config().environments.map { "/environments/\($0.name)/" }
        paths += Array(Set(driftReports.map(\.model))).sorted().map { "/drift/\($0)/" }
        return paths
    }

    /// Writes every page as a static file (`index.html` per folder) with relative links.
    public func export(to directory: String) throws -> ExportReport {
        let fm = FileManager.default
        var report = ExportReport(directory: directory, pages: 0, bytes: 0, failed: [:])
        for path in try allPaths() {
            let answer = respond(path: path, query: nil)
            if answer.status != 200 { report.failed[path] = "\(answer.status)" }
            let file = directory + (path.hasSuffix("/") ? path + "index.html" : path)
            do {
                try fm.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(answer.body.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
            } catch {
                throw UIError.input("cannot write '\(file)': \(error.localizedDescription)")
            }
            report.pages += 1
            report.bytes += answer.body.utf8.count
        }
        return report
    }
}
