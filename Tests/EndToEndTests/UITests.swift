import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MregCore
import MregTestSupport
import Testing

/// Payloads that would run script or add elements if a page passed them through.
let xssCard = "<script>document.title='pwned-card'</script><img src=x onerror=\"document.title='pwned-img'\">"
let xssDescription = "<b onmouseover=alert(1)>desc-payload</b><script>document.title='pwned-desc'</script>"
let xssCategory = "<svg onload=alert(1)>cat-payload"

/// A registry with two models, several versions, two environments, an evaluation, a hostile card,
/// description and capture value, and a monitor report: built once for the UI tests.
struct UIFixture: Sendable {
    let dir: TempDir
    let reg: String
    let report: String
    let capture: String

    static let shared = Result<UIFixture, RegistryTestFailure>(catching: { () throws(RegistryTestFailure) -> UIFixture in try build() })

    static func get() throws -> UIFixture { try shared.get() }

    static func build() throws(RegistryTestFailure) -> UIFixture {
        let dir = TempDir("e2e-ui")
        let reg = dir.sub("reg")
        func ok(_ args: [String], in cwd: String? = nil) throws(RegistryTestFailure) {
            let r = mreg(args, in: cwd ?? reg)
            guard r.status == 0 else { throw RegistryTestFailure(message: "mreg \(args.joined(separator: " ")): \(r.stderr)") }
        }
        func gitOK(_ args: [String]) throws(RegistryTestFailure) {
            let r = git(args, in: reg)
            guard r.status == 0 else { throw RegistryTestFailure(message: "git \(args.joined(separator: " ")): \(r.stderr)") }
        }
        try ok(["init", reg], in: dir.path)
        try ok(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--trials", "3", "--quiet"])
        try ok(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--param", "max_iter=200", "--trials", "3", "--quiet"])
        try ok(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--algorithm", "gbdt", "--param", "max_iter=20", "--trials", "2", "--quiet"])
        try ok(["train", "mass", "--data", penguinsCSV, "--target", "body_mass_g", "--quiet"])
        try ok(["train", "mass", "--data", penguinsCSV, "--target", "body_mass_g", "--param", "alpha=2", "--quiet"])
        try ok(["evaluate", "penguins@v2", "--data", penguinsCSV, "--record"])
        // Hostile text in a card body and a model description, committed with plain git.
        let cardPath = reg + "/models/penguins/v2/card.md"
        let card = (try? String(contentsOfFile: cardPath, encoding: .utf8)) ?? ""
        try? (card + "\n## Notes\n\n" + xssCard + "\n\n[docs](notes.md) and [evil](javascript:alert(1))\n").write(toFile: cardPath, atomically: true, encoding: .utf8)
        let specPath = reg + "/models/penguins/model.yaml"
        let spec = (try? String(contentsOfFile: specPath, encoding: .utf8)) ?? ""
        try? (spec + "description: \"\(xssDescription)\"\n").write(toFile: specPath, atomically: true, encoding: .utf8)
        try gitOK(["add", "-A"])
        try gitOK(["commit", "-q", "-m", "Hostile card and description"])
        try ok(["promote", "penguins@v1", "--to", "staging", "--merge"])
        try ok(["card", "penguins@v1", "--set", "owner=ml-team", "--set", "intended_use=tests", "--set", "limitations=penguins only", "--set", "license=apache-2.0"])
        try ok(["promote", "penguins@v1", "--to", "production", "--merge"])
        try ok(["promote", "penguins@v2", "--to", "staging", "--merge"])
        try ok(["promote", "mass@v2", "--to", "staging", "--merge"])
        // Captured requests with a hostile categorical value, and the monitor report over them.
        let capture = dir.sub("capture")
        try? FileManager.default.createDirectory(atPath: capture, withIntermediateDirectories: true)
        var lines = ""
        for i in 0..<40 {
            let island = i % 2 == 0 ? xssCategory : "Biscoe"
            lines += #"{"ts":"2026-11-22T18:00:00Z","id":"r\#(i)","model":"penguins","version":"v1","rows":1,"inputs":{"island":["\#(island)"],"bill_length_mm":[\#(40 + i % 7)],"bill_depth_mm":[18.0],"flipper_length_mm":[190],"body_mass_g":[3800],"sex":["male"],"year":[2008]}}"# + "\n"
        }
        try? lines.write(toFile: capture + "/capture-1.jsonl", atomically: true, encoding: .utf8)
        let report = dir.sub("drift.json")
        let m = mreg(["monitor", "penguins@v1", "--capture", capture, "--format", "json", "--output", report], in: reg)
        guard m.status == 0 || m.status == 1 else { throw RegistryTestFailure(message: "monitor: \(m.stderr)") }
        return UIFixture(dir: dir, reg: reg, report: report, capture: capture)
    }
}

/// `mreg ui` started on a free port; stopped by SIGTERM.
final class UIProcess: @unchecked Sendable {
    let daemon: Daemon
    let base: String

    init(_ arguments: [String], cwd: String) throws {
        // env -C: the folder to start in (env execs mreg in place, so the pid is mreg's).
        daemon = try Daemon("/usr/bin/env", ["-C", cwd, mregBinary, "ui", "--port", "0"] + arguments, stdout: true)
        let text = daemon.readLine() ?? ""
        guard text.hasPrefix("listening on ") else {
            daemon.stop()
            throw RegistryTestFailure(message: "mreg ui did not start: '\(text)'")
        }
        base = String(text.dropFirst("listening on ".count))
    }

    /// Redirects are answers to check, not to follow.
    static let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)

    func stop() { daemon.stop() }

    /// GET `path` (raw, sent as written): status, body and headers.
    func get(_ path: String, accept: String? = nil, method: String = "GET") async throws -> (status: Int, body: String, headers: [String: String]) {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = method
        if let accept { r.setValue(accept, forHTTPHeaderField: "Accept") }
        let (data, response) = try await UIProcess.session.data(for: r)
        let http = response as! HTTPURLResponse
        var headers = [String: String]()
        for (k, v) in http.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
        return (http.statusCode, String(decoding: data, as: UTF8.self), headers)
    }
}

final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

/// A strict-enough HTML check: tags nest and close (void elements aside), attributes are quoted,
/// no script, no external URL. Returns problems and the link targets found.
func checkHTML(_ html: String) -> (problems: [String], links: [String]) {
    let void: Set<String> = ["meta", "link", "br", "hr", "input", "img"]
    // SVG children written self-closing or closed explicitly.
    var stack = [String]()
    var problems = [String]()
    var links = [String]()
    var rest = Substring(html)
    while let lt = rest.firstIndex(of: "<") {
        rest = rest[lt...]
        guard let gt = rest.firstIndex(of: ">") else { problems.append("unclosed '<'"); break }
        let tag = String(rest[rest.index(after: lt)..<gt])
        rest = rest[rest.index(after: gt)...]
        if tag.hasPrefix("!") { continue }
        let closing = tag.hasPrefix("/")
        let selfClosing = tag.hasSuffix("/")
        let name = String(tag.drop { $0 == "/" }.prefix { $0.isLetter || $0.isNumber }).lowercased()
        if name == "script" { problems.append("script element") }
        if closing {
            guard stack.last == name else { problems.append("</\(name)> closes <\(stack.last ?? "nothing")>"); continue }
            stack.removeLast()
            continue
        }
        for attr in ["href", "src", "action"] {
            guard let range = tag.range(of: " \(attr)=\"") else { continue }
            let value = tag[range.upperBound...].prefix { $0 != "\"" }
            links.append(String(value))
            if value.contains("//") || value.contains(":") { problems.append("external or scheme URL '\(value)'") }
        }
        if tag.range(of: #" on[a-z]+="#, options: .regularExpression) != nil { problems.append("event handler in <\(tag)>") }
        if !void.contains(name) && !selfClosing { stack.append(name) }
    }
    if !stack.isEmpty { problems.append("unclosed: \(stack.joined(separator: " "))") }
    return (problems, links)
}

@Suite(.serialized) struct UITests {
    @Test func exportedPagesAreWellFormedLinkedAndEscaped() throws {
        let f = try UIFixture.get()
        let out = f.dir.sub("site-\(UUID().uuidString.prefix(6))")
        let r = mreg(["ui", "--export", out, "--monitor-report", f.report, "--json"], in: f.reg)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONValue.parse(r.stdout)
        let files = FileManager.default.enumerator(atPath: out)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".html") }.sorted()
        #expect(report["pages"]?.intValue == files.count + 1)  // + style.css
        for page in ["index.html", "models/penguins/index.html", "models/penguins/v2/index.html", "models/penguins/compare/index.html",
                     "environments/production/index.html", "environments/staging/index.html", "drift/index.html", "drift/penguins/index.html"] {
            #expect(files.contains(page), "\(page)")
        }
        for file in files {
            let html = try String(contentsOfFile: out + "/" + file, encoding: .utf8)
            let (problems, links) = checkHTML(html)
            #expect(problems.isEmpty, "\(file): \(problems)")
            let folder = ((out + "/" + file) as NSString).deletingLastPathComponent
            for link in links {
                let target = String(link.prefix { $0 != "?" && $0 != "#" })
                if target.isEmpty { continue }
                let resolved = URL(fileURLWithPath: folder + "/" + target).standardizedFileURL.path
                #expect(FileManager.default.fileExists(atPath: resolved), "\(file) links to missing '\(link)'")
            }
        }
        let overview = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(overview.contains(HTMLText.escape(xssDescription)))
        let v2 = try String(contentsOfFile: out + "/models/penguins/v2/index.html", encoding: .utf8)
        #expect(v2.contains(HTMLText.escape(xssCard)))
        #expect(!v2.contains("<a href=\"notes.md\""))
        #expect(!v2.contains("href=\"javascript"))
        #expect(v2.contains("id=\"confusion\""))
        let drift = try String(contentsOfFile: out + "/drift/penguins/index.html", encoding: .utf8)
        #expect(drift.contains(HTMLText.escape(xssCategory)))
    }
}

extension UITests {
    @Test func servesEveryPageTypeAndSurvivesHostileRequests() async throws {
        let f = try UIFixture.get()
        let ui = try UIProcess(["--registry", f.reg, "--monitor-report", f.report, "--capture", "penguins@v1=\(f.capture)"], cwd: f.dir.path)
        defer { ui.stop() }
        for path in ["/", "/models/penguins/", "/models/penguins/v3/", "/models/mass/v1/", "/compare?v=penguins@v1&v=penguins@v3&v=mass@v2",
                     "/models/penguins/compare/", "/environments/production/", "/environments/staging/", "/drift/", "/drift/penguins/", "/style.css"] {
            let r = try await ui.get(path)
            #expect(r.status == 200, "\(path): \(r.body.prefix(300))")
            if path != "/style.css" {
                #expect(r.headers["content-security-policy"]?.contains("default-src 'none'") == true)
                #expect(checkHTML(r.body).problems.isEmpty, "\(path): \(checkHTML(r.body).problems)")
            }
        }
        // A directory page without its slash moves there, so relative links resolve.
        let moved = try await ui.get("/models/penguins?sort=accuracy")
        #expect(moved.status == 308 && moved.headers["location"] == "/models/penguins/?sort=accuracy")
        let sorted = try await ui.get("/models/penguins/?sort=accuracy&order=asc")
        #expect(sorted.status == 200 && sorted.body.contains("accuracy</a> ▲"))
        // Unknown names: 404 pages, JSON when asked.
        let unknown = try await ui.get("/models/nosuch/")
        #expect(unknown.status == 404 && unknown.body.contains("model &#39;nosuch&#39; not found"))
        let unknownJSON = try await ui.get("/models/penguins/v99/", accept: "application/json")
        #expect(unknownJSON.status == 404)
        #expect(try JSONValue.parse(unknownJSON.body)["error"]?.stringValue == "model 'penguins' has no version 'v99'")
        #expect(try await ui.get("/environments/nosuch/?format=json").status == 404)
        #expect(try await ui.get("/compare?v=penguins@v1").status == 400)
        #expect(try await ui.get("/compare?v=penguins@v1&v=%3Cscript%3E").status == 400)
        // Hostile paths and queries: answered, never a crash.
        for path in ["/models/..%2F..%2Fetc/", "/%2e%2e/%2e%2e/etc/passwd", "/models/%00/", "/models/penguins/v1/..%2F..%2F/",
                     "/%ff%fe", "/drift/%3Cscript%3E/", "/?" + String(repeating: "a=%3Cb%3E&", count: 2000), "/models/penguins/?sort=%22%3E%3Cscript%3E"] {
            let r = try await ui.get(path)
            #expect([200, 308, 400, 404, 414].contains(r.status), "\(path.prefix(60)): \(r.status)")
            #expect(!r.body.contains("<script"), "\(path.prefix(60))")
        }
        #expect(try await ui.get("/", method: "POST").status == 405)
        let after = try await ui.get("/")
        #expect(after.status == 200 && after.body.contains("penguins"))
    }

    @Test func refusesNonLoopbackWithoutTheFlag() throws {
        let f = try UIFixture.get()
        let r = mreg(["ui", "--registry", f.reg, "--host", "0.0.0.0"], in: f.dir.path)
        #expect(r.status == 2 && r.isOneLineError, "\(r.stderr)")
        #expect(r.stderr.contains("--allow-remote"))
        let bad = mreg(["ui", "--registry", f.reg, "--monitor-report", f.reg + "/mreg.yaml", "--export", f.dir.sub("x")], in: f.dir.path)
        #expect(bad.status == 2 && bad.isOneLineError, "\(bad.stderr)")
    }

    /// `--repo`: a bare mirror of the remote, fetched again when main moves.
    @Test func followsARemoteRegistry() async throws {
        let dir = TempDir("e2e-ui-repo")
        defer { dir.remove() }
        let reg = dir.sub("reg")
        #expect(mreg(["init", reg], in: dir.path).status == 0)
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--quiet"], in: reg).status == 0)
        let origin = dir.sub("origin.git")
        #expect(git(["clone", "-q", "--bare", reg, origin], in: dir.path).status == 0)
        let ui = try UIProcess(["--repo", origin, "--mirror", dir.sub("cache/mirror.git"), "--refresh", "1"], cwd: dir.path)
        defer { ui.stop() }
        let before = try await ui.get("/models/penguins/")
        #expect(before.status == 200 && before.body.contains(">v1</a>") && !before.body.contains(">v2</a>"))
        #expect(mreg(["train", "penguins", "--data", penguinsCSV, "--target", "species", "--param", "C=0.5", "--quiet"], in: reg).status == 0)
        #expect(git(["push", "-q", origin, "main"], in: reg).status == 0)
        // The page follows once the mirror fetched: wait for that, up to a deadline.
        let deadline = Date().addingTimeInterval(30)
        var seen = false
        while Date() < deadline {
            if try await ui.get("/models/penguins/").body.contains(">v2</a>") { seen = true; break }
            try await _Concurrency.Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(seen, "the page shows v2 after main moved on the remote")
        #expect(FileManager.default.fileExists(atPath: dir.sub("cache/mirror.git/HEAD")))
        let missing = mreg(["ui", "--repo", dir.sub("nothing.git"), "--mirror", dir.sub("m2.git"), "--export", dir.sub("x")], in: dir.path)
        #expect(missing.status == 2 && missing.isOneLineError, "\(missing.stderr)")
    }

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Every page type in headless Chromium: the DOM has the plots' points and the tables' rows, the
    /// hostile strings are text (the title was not changed by script), and a screenshot per page.
    @Test(.enabled(if: UITests.chromium != nil, "chromium is not installed (scripts/test.sh installs it)"))
    func chromiumShowsPlotsRowsAndEscapedText() async throws {
        let f = try UIFixture.get()
        let ui = try UIProcess(["--registry", f.reg, "--monitor-report", f.report], cwd: f.dir.path)
        defer { ui.stop() }
        let shots = FileManager.default.temporaryDirectory.appendingPathComponent("mreg-ui-screenshots-\(getpid())").path
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        // One launch per page: the screenshot and the DOM after parsing (and after any script, were there one).
        func dom(_ path: String, shot: String) -> String {
            let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--disable-component-update", "--window-size=1000,700",
                         "--user-data-dir=\(f.dir.sub("chromium-profile"))", "--screenshot=\(shots)/\(shot).png", "--dump-dom"]
            let d = run(UITests.chromium!, flags + [ui.base + path], cwd: f.dir.path, environment: ["HOME": f.dir.path])
            #expect(d.status == 0, "chromium \(path): \(d.stderr.suffix(300))")
            let title = d.stdout.components(separatedBy: "<title>").dropFirst().first?.components(separatedBy: "</title>").first ?? ""
            #expect(title.hasSuffix(" · mreg") && !title.contains("pwned"), "\(path): title '\(title)', script ran")
            return d.stdout
        }
        func count(_ text: String, _ needle: String) -> Int { text.components(separatedBy: needle).count - 1 }
        let overview = dom("/", shot: "overview")
        #expect(count(overview, "<tr>") == 3)  // header + two models
        #expect(overview.contains("desc-payload") && !overview.contains("<b onmouseover"))
        let model = dom("/models/penguins/", shot: "model")
        #expect(count(model, "class=\"pt\"") >= 3)
        #expect(count(model, "class=\"marker\"") >= 2)  // staging and production champions
        #expect(count(model, "class=\"segment\"") >= 2)
        let version = dom("/models/penguins/v2/", shot: "version")
        #expect(version.contains("&lt;script&gt;document.title"))
        #expect(count(version, "class=\"cell\"") == 9)  // three species
        #expect(count(version, "class=\"pt\"") >= 3)  // the tuning trials
        let compare = dom("/compare?v=penguins@v1&v=penguins@v2&v=penguins@v3", shot: "compare")
        #expect(count(compare, "class=\"bar\"") >= 3)
        let env = dom("/environments/staging/", shot: "environment")
        #expect(count(env, "class=\"segment\"") >= 2)
        let drift = dom("/drift/penguins/", shot: "drift")
        #expect(drift.contains("cat-payload") && !drift.contains("<svg onload"))
        #expect(count(drift, "class=\"bar\"") >= 2)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: shots).filter { $0.hasSuffix(".png") }
        #expect(pngs.count == 6, "screenshots in \(shots)")
    }
}

/// The escaping the pages promise, written out independently of MregUI.
enum HTMLText {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
