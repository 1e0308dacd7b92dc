import Foundation
import MregCore
import MregGit
import MregReconciler
import MregRegistry

/// One answer of the site: a page, the stylesheet, a redirect or an error.
public struct UIResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String
    /// For a redirect: where to (an absolute path built from checked names).
    public var location: String?

    static func html(_ body: String, status: Int = 200) -> UIResponse {
        UIResponse(status: status, contentType: "text/html; charset=utf-8", body: body)
    }

    static func json(_ value: JSONValue, status: Int) -> UIResponse {
        UIResponse(status: status, contentType: "application/json", body: value.encodedString() + "\n")
    }
}

/// A monitor report shown on the drift pages: `mreg monitor --format json` output (read from a
/// file) or one computed from a capture folder.
public struct DriftReport: Sendable {
    public var model: String
    /// Where it came from, for the page: a file path or a capture folder.
    public var source: String
    public var json: JSONValue

    public init(model: String, source: String, json: JSONValue) {
        self.model = model
        self.source = source
        self.json = json
    }

    /// Reads `mreg monitor --format json` output; an error naming the file when it is not one.
    public static func read(_ path: String) throws(UIError) -> DriftReport {
        guard let data = FileManager.default.contents(atPath: path) else { throw .input("monitor report '\(path)' cannot be read") }
        guard data.count <= 64 << 20 else { throw .input("monitor report '\(path)' is larger than 64 MB") }
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch { throw .input("monitor report '\(path)' is not JSON: \(error)") }
        guard let model = json["model"]?.stringValue, Names.isValidModelName(model), json["features"]?.arrayValue != nil,
              json["version"]?.stringValue != nil
        else { throw .input("monitor report '\(path)' is not `mreg monitor --format json` output (no model, version or features)") }
        return DriftReport(model: model, source: path, json: json)
    }
}

/// What went wrong setting the site up.
public enum UIError: Error, CustomStringConvertible, Sendable {
    case input(String)
    /// A page about something the site does not have (a 404).
    case notFound(String)

    public var description: String {
        switch self {
        case .input(let message), .notFound(let message): return message
        }
    }
}

/// The pages of `mreg ui` over one registry. Not Sendable (it owns the registry): the server keeps
/// it behind a mutex, the export uses it alone.
public final class UISite {
    public let registry: Registry
    public var driftReports: [DriftReport]
    /// Host statuses per environment page, last fetched (nil: no `--hosts` given).
    public var hosts: (fetched: Date, reports: [HostReport])?
    let links: SiteLinks
    /// The longest query string answered; longer ones get 414.
    static let maxQuery = 8192

    public init(registry: Registry, driftReports: [DriftReport] = [], export: Bool = false) {
        self.registry = registry
        self.driftReports = driftReports
        self.links = SiteLinks(export: export)
    }

    /// Answers `GET path?query`; never throws: a registry that cannot be read is a 500 page naming why.
    public func respond(path rawPath: String, query: String?, wantsJSON: Bool = false) -> UIResponse {
        if let query, query.utf8.count > UISite.maxQuery {
            return .json(["error": .string("query string longer than \(UISite.maxQuery) bytes")], status: 414)
        }
        let parameters = UISite.parseQuery(query ?? "")
        let json = wantsJSON || parameters.contains { $0.0 == "format" && $0.1 == "json" }
        guard rawPath.utf8.count <= 2048, let decoded = rawPath.removingPercentEncoding, decoded.hasPrefix("/") else {
            return notFound("no page '\(String(rawPath.prefix(200)))'", json: json, root: "/")
        }
        let segments = decoded.split(separator: "/").map(String.init)
        let root = String(repeating: "../", count: max(0, decoded.filter { $0 == "/" }.count - 1))
        let page = Page(root: root.isEmpty ? "./" : root, links: links)
        let directory = decoded.hasSuffix("/")
        do {
            switch segments.count {
            case 0:
                return .html(try overview(page))
            case 1 where segments[0] == "style.css":
                return UIResponse(status: 200, contentType: "text/css; charset=utf-8", body: HTML.stylesheet)
            case 1 where segments[0] == "compare":
                return .html(try compare(page, references: parameters.filter { $0.0 == "v" }.map(\.1)))
            case 1 where segments[0] == "drift":
                return directory ? .html(driftIndex(page)) : redirect(decoded, query)
            case 2 where segments[0] == "models" && Names.isValidModelName(segments[1]):
                return directory ? .html(try model(page, segments[1], parameters: parameters)) : redirect(decoded, query)
            case 3 where segments[0] == "models" && Names.isValidModelName(segments[1]) && segments[2] == "compare":
                return directory ? .html(try defaultCompare(page, segments[1])) : redirect(decoded, query)
            case 3 where segments[0] == "models" && Names.isValidModelName(segments[1]) && Names.versionNumber(segments[2]) != nil:
                return directory ? .html(try version(page, segments[1], segments[2])) : redirect(decoded, query)
            case 2 where segments[0] == "environments" && Names.isValidModelName(segments[1]):
                return directory ? .html(try environment(page, segments[1])) : redirect(decoded, query)
            case 2 where segments[0] == "drift" && Names.isValidModelName(segments[1]):
                return directory ? .html(try drift(page, segments[1])) : redirect(decoded, query)
            default:
                return notFound("no page '\(decoded)'", json: json, root: page.root)
            }
        } catch {
            return failure(error, json: json, root: page.root)
        }
    }

    /// A directory page asked for without its slash: there, so relative links resolve.
    func redirect(_ path: String, _ query: String?) -> UIResponse {
        // The segments were checked names; encode anyway so nothing odd reaches the header.
        let safe = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/"
        return UIResponse(status: 308, contentType: "text/plain", body: "moved to \(safe)/\n",
                          location: safe + "/" + (query.map { "?" + ($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? "") } ?? ""))
    }

    func notFound(_ message: String, json: Bool, root: String) -> UIResponse {
        if json { return .json(["error": .string(message)], status: 404) }
        let page = Page(root: root, links: links)
        return .html(page.document("not found", "<h1>Not found</h1><p>\(HTML.escape(message))</p><p><a href=\"\(page.href(""))\">all models</a></p>"), status: 404)
    }

    /// Unknown names are 404s; anything else (a file in the registry that does not parse) a 500 naming it.
    func failure(_ error: Error, json: Bool, root: String) -> UIResponse {
        let message = "\(error)"
        var status = 500
        if let e = error as? RegistryError {
            switch e {
            case .unknownModel, .unknownVersion, .unknownEnvironment, .notDeployed: status = 404
            case .invalidInput: status = 400
            default: break
            }
        }
        if let e = error as? CoreError, case .invalidName = e { status = 400 }
        if let e = error as? UIError, case .notFound = e { status = 404 }
        if json { return .json(["error": .string(message)], status: status) }
        let page = Page(root: root, links: links)
        let title = status == 404 ? "Not found" : status == 400 ? "Bad request" : "Cannot show this page"
        return .html(page.document(title, "<h1>\(title)</h1><p>\(HTML.escape(message))</p><p><a href=\"\(page.href(""))\">all models</a></p>"), status: status)
    }

    /// `a=1&b=x%20y` -> pairs, `+` as space; at most 64 pairs (the rest ignored).
    static func parseQuery(_ query: String) -> [(String, String)] {
        query.split(separator: "&").prefix(64).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

/// Where a page is, for its links.
struct Page {
    /// `./`, `../`, `../../`: from the page to the site root.
    var root: String
    var links: SiteLinks

    func href(_ path: String) -> String { links.href(root, path) }
    func model(_ m: String) -> String { href("models/\(m)/") }
    func version(_ m: String, _ v: String) -> String { href("models/\(m)/\(v)/") }
    func environment(_ e: String) -> String { href("environments/\(e)/") }

    func document(_ title: String, _ body: String) -> String {
        HTML.page(title: title, root: root, links: links, body: body)
    }

    /// `<a href=…>m@v3</a>` for a version.
    func versionLink(_ m: String, _ v: String, text: String? = nil) -> String {
        "<a href=\"\(version(m, v))\">\(HTML.escape(text ?? v))</a>"
    }
}
