import Foundation
import MregCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The serving side of the quickstart: `mreg serve` and `mreg reconcile` as child processes of this
/// very binary, and a small HTTP client to talk to the server.
final class QuickstartHost {
    let root: String
    let store: String
    let capture: String
    private var server: Process?
    private var reconciler: Process?
    private(set) var url = ""

    init(root: String) {
        self.root = root
        store = root + "/host/store"
        capture = root + "/host/capture"
    }

    deinit { stop() }

    private static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `mreg serve` on a free loopback port with every request captured.
    func startServer() throws {
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: QuickstartHost.executable)
        p.arguments = ["serve", "--store", store, "--port", "0", "--capture", capture, "--capture-percent", "100"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        server = p
        // The first line says where it listens.
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else {
            throw QuickstartError("mreg serve did not start: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        url = String(text[range.lowerBound...].prefix { !$0.isWhitespace })
        // Keep draining its output so it never blocks on a full pipe.
        handle.readabilityHandler = { h in _ = h.availableData }
    }

    /// Starts `mreg reconcile` following `registry`'s main for `environment`, one pass a second.
    func startReconciler(registry: String, environment: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: QuickstartHost.executable)
        p.arguments = ["reconcile", "--repo", registry, "--env", environment, "--host", "quickstart", "--server", url,
                       "--store", store, "--interval", "1s"]
        FileManager.default.createFile(atPath: root + "/host/reconcile.log", contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: root + "/host/reconcile.log")
        p.standardError = p.standardOutput
        try p.run()
        reconciler = p
    }

    /// Stops both processes with SIGTERM (the server finishes in-flight requests and its capture).
    func stop() {
        for p in [reconciler, server].compactMap({ $0 }) where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        reconciler = nil
        server = nil
    }

    /// Sends inferences until `model` answers from `version` (any version when nil): the seconds
    /// waited, and how many requests were sent and failed meanwhile (once the model answered at all).
    func waitForVersion(_ model: String, _ version: String?, timeout: Double = 60) throws -> (seconds: Double, requests: Int, failures: Int) {
        let start = Date()
        var requests = 0, failures = 0, answered = false
        while Date().timeIntervalSince(start) < timeout {
            let served = try? inferVersion(model)
            if served != nil { answered = true }
            if answered {
                requests += 1
                if served == nil { failures += 1 }
            }
            if let served, version == nil || served == version { return (Date().timeIntervalSince(start), requests, failures) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw QuickstartError("the host did not serve \(model)\(version.map { "@\($0)" } ?? "") within \(Int(timeout)) s (see \(root)/host/reconcile.log)")
    }

    /// The version that answers an inference for `model` (asks the model's metadata for its inputs first).
    func inferVersion(_ model: String) throws -> String? {
        let (status, body) = try request("GET", "/v2/models/\(model)")
        guard status == 200, let inputs = body["inputs"]?.arrayValue else { return nil }
        var tensors = [JSONValue]()
        for input in inputs {
            let bytes = input["datatype"]?.stringValue == "BYTES"
            tensors.append(["name": input["name"] ?? "", "shape": [1], "datatype": bytes ? "BYTES" : "FP64", "data": [JSONValue.null]])
        }
        let (s, answer) = try request("POST", "/v2/models/\(model)/infer", body: ["inputs": .array(tensors)])
        return s == 200 ? answer["model_version"]?.stringValue : nil
    }

    /// Sends rows (feature -> value, nil = missing) in one request; returns the labels and the version.
    func predict(_ model: String, rows: [[String: String?]], features: [(name: String, numeric: Bool)], id: String) throws -> (labels: [String], version: String) {
        var tensors = [JSONValue]()
        for f in features {
            let data: [JSONValue] = rows.map { row in
                guard let cell = row[f.name] ?? nil else { return .null }
                if f.numeric { return Double(cell).map(JSONValue.number) ?? .null }
                return .string(cell)
            }
            tensors.append(["name": .string(f.name), "shape": [.number(Double(rows.count))], "datatype": f.numeric ? "FP64" : "BYTES", "data": .array(data)])
        }
        let (status, answer) = try request("POST", "/v2/models/\(model)/infer", body: ["id": .string(id), "inputs": .array(tensors)])
        guard status == 200 else { throw QuickstartError("inference failed (\(status)): \(answer["error"]?.stringValue ?? "")") }
        let label = answer["outputs"]?.arrayValue?.first { $0["name"]?.stringValue == "label" }
        return ((label?["data"]?.arrayValue ?? []).compactMap(\.stringValue), answer["model_version"]?.stringValue ?? "?")
    }

    /// Waits until the capture files hold at least `records` records.
    func waitForCapture(records: Int, timeout: Double = 10) {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: capture)) ?? []
            var lines = 0
            for f in files where f.hasSuffix(".jsonl") {
                lines += (FileManager.default.contents(atPath: capture + "/" + f) ?? Data()).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
            if lines >= records { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// One HTTP request to the server with a JSON body; answers the status and the JSON body.
    func request(_ method: String, _ path: String, body: JSONValue? = nil) throws -> (Int, JSONValue) {
        var req = URLRequest(url: URL(string: url + path)!)
        req.httpMethod = method
        req.timeoutInterval = 10
        if let body {
            req.httpBody = body.encoded()
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        URLSession.shared.dataTask(with: req) { data, response, error in
            box.set(data, (response as? HTTPURLResponse)?.statusCode, error)
            done.signal()
        }.resume()
        done.wait()
        let (data, status, error) = box.get()
        if let error { throw QuickstartError("\(method) \(path): \(error.localizedDescription)") }
        let json = (try? JSONValue.parse(data ?? Data())) ?? .null
        return (status ?? 0, json)
    }
}

/// A failure of the quickstart's own steps.
struct QuickstartError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Data?, Int?, Error?) = (nil, nil, nil)
    func set(_ d: Data?, _ s: Int?, _ e: Error?) {
        lock.lock()
        value = (d, s, e)
        lock.unlock()
    }
    func get() -> (Data?, Int?, Error?) {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
