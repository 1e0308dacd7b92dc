import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MregCore
import MregML
import MregTestSupport
import Testing

/// The built `mreg` binary, beside the test bundle in the build folder.
let mregBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = (exe as NSString).deletingLastPathComponent
    while !dir.isEmpty && dir != "/" {
        if FileManager.default.isExecutableFile(atPath: dir + "/mreg") { return dir + "/mreg" }
        dir = (dir as NSString).deletingLastPathComponent
    }
    return "mreg-binary-not-built"
}()

/// Models trained once per test run on examples/penguins.csv with MregML itself.
enum Models {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let penguinsTable: Table = {
        try! Table.readCSV(at: root.appendingPathComponent("examples/penguins.csv"))
    }()

    /// Species from the other columns, logistic regression.
    static let species: TrainOutcome = {
        try! train(TrainRequest(table: penguinsTable, target: "species", algorithm: .logistic, seed: 42))
    }()

    /// The same with another seed and split: a second, different version.
    static let speciesV2: TrainOutcome = {
        try! train(TrainRequest(table: penguinsTable, target: "species", algorithm: .logistic, holdout: 0.3, seed: 7))
    }()

    /// Body mass from the other columns, linear regression.
    static let mass: TrainOutcome = {
        try! train(TrainRequest(table: penguinsTable, target: "body_mass_g", task: .regression, algorithm: .linear, seed: 42))
    }()

    /// Body mass from three numeric measurements only, for [N, F] matrix requests.
    static let massNumeric: TrainOutcome = {
        try! train(TrainRequest(table: penguinsTable, target: "body_mass_g", task: .regression, algorithm: .linear,
                                seed: 42, features: ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]))
    }()

    /// The rows of the penguins table, in the model's feature order, as the server would get them.
    static func input(_ model: Model, rows: Range<Int>) -> ModelInput {
        let full = try! model.input(from: penguinsTable)
        let columns: [FeatureColumn] = full.columns.map { c in
            switch c {
            case .numeric(let v): return .numeric(Array(v[rows]))
            case .categorical(let v): return .categorical(Array(v[rows]))
            }
        }
        return ModelInput(columns: columns, rowCount: rows.count)
    }
}

/// A store folder with model versions written the way the reconciler lays them out.
struct TestStore {
    let dir: TempDir
    var path: String { dir.sub("store") }

    init() {
        dir = TempDir("mreg-serve")
        try! FileManager.default.createDirectory(atPath: dir.sub("store"), withIntermediateDirectories: true)
    }

    /// Writes `STORE/MODEL/VERSION/model.json` (and the other files a version has).
    func add(_ model: String, _ version: String, _ outcome: TrainOutcome) {
        add(model, version, artifact: outcome.artifact.encoded())
    }

    func add(_ model: String, _ version: String, artifact: Data) {
        let folder = "store/\(model)/\(version)"
        dir.write("\(folder)/model.json", String(decoding: artifact, as: UTF8.self))
        dir.write("\(folder)/metrics.json", "{}\n")
        dir.write("\(folder)/card.md", "---\nmodel: \(model)\n---\n")
    }

    func writeState(_ model: String, _ json: String) {
        dir.write("store/\(model)/serving.json", json)
    }

    func remove() { dir.remove() }
}

/// A running `mreg serve` process on 127.0.0.1 with a free port.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let base: String
    private let errData = LockedBuffer()
    let token = "test-token-0123456789abcdef"

    /// Starts the server and waits for its `listening on` line.
    init(store: String, arguments: [String] = [], useToken: Bool = true, tokenDir: String? = nil) throws {
        var args = ["serve", "--store", store, "--port", "0"]
        if useToken {
            let file = (tokenDir ?? store + "/..") + "/admin-token"
            try (token + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            args += ["--admin-token-file", file]
        }
        process.executableURL = URL(fileURLWithPath: mregBinary)
        process.arguments = args + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let errBuffer = errData
        err.fileHandleForReading.readabilityHandler = { h in errBuffer.append(h.availableData) }
        try process.run()
        let text = ServerProcess.readLine(out.fileHandleForReading)
        guard text.hasPrefix("listening on http://127.0.0.1:") else {
            process.waitUntilExit()
            throw ServerFailed(message: "server did not start: stdout '\(text)', stderr '\(errBuffer.text)'")
        }
        base = String(text.dropFirst("listening on ".count))
    }

    var stderr: String { errData.text }

    /// The next line of stdout, read byte by byte (the server writes each line once it applies).
    static func readLine(_ handle: FileHandle) -> String {
        var line = [UInt8]()
        while true {
            let d = handle.readData(ofLength: 1)
            if d.isEmpty || d[d.startIndex] == 0x0A { break }
            line.append(d[d.startIndex])
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    // MARK: HTTP

    struct Reply: Sendable {
        var status: Int
        var body: Data
        var headers: [String: String]
        var json: JSONValue? { try? JSONValue.parse(body) }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The `error` field of an error reply.
        var error: String? { json?["error"]?.stringValue }
    }

    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.httpMaximumConnectionsPerHost = 8
        c.timeoutIntervalForRequest = 30
        return URLSession(configuration: c)
    }()

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = method
        r.httpBody = body
        if body != nil { r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await ServerProcess.session.data(for: r)
        let http = response as! HTTPURLResponse
        var h = [String: String]()
        for (k, v) in http.allHeaderFields { h[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, body: data, headers: h)
    }

    func get(_ path: String) async throws -> Reply { try await request("GET", path) }

    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, body: Data(json.utf8), headers: headers)
    }

    /// A repository call with the admin token.
    func admin(_ path: String, _ json: String = "") async throws -> Reply {
        try await request("POST", path, body: json.isEmpty ? nil : Data(json.utf8), headers: ["Authorization": "Bearer \(token)"])
    }
}

struct ServerFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

final class LockedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// JSON for a request with one tensor per feature, values written in shortest round-trip form.
func inferBody(_ model: Model, _ input: ModelInput, id: String? = nil) -> String {
    var tensors = [String]()
    for (spec, column) in zip(model.features, input.columns) {
        let values: [String]
        let datatype: String
        switch column {
        case .numeric(let v):
            datatype = "FP64"
            values = v.map { $0.isFinite ? "\($0)" : "null" }
        case .categorical(let v):
            datatype = "BYTES"
            values = v.map { $0.map { JSONValue.string($0).encodedString() } ?? "null" }
        }
        tensors.append(#"{"name":"\#(spec.name)","datatype":"\#(datatype)","shape":[\#(input.rowCount)],"data":[\#(values.joined(separator: ","))]}"#)
    }
    let idPart = id.map { #""id":"\#($0)","# } ?? ""
    return #"{\#(idPart)"inputs":[\#(tensors.joined(separator: ","))]}"#
}

/// A raw TCP connection to 127.0.0.1, for what URLSession cannot send: partial requests, broken
/// headers, random bytes.
final class RawConnection {
    let fd: Int32

    init(port: Int, timeoutMilliseconds: Int = 5000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerFailed(message: "socket failed") }
        var tv = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw ServerFailed(message: "connect failed: \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends everything it can; false if the peer closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Waits for the first bytes the peer sends (or the timeout).
    func receiveSome() -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        return n > 0 ? Array(buf[0..<n]) : []
    }

    /// Reads until the peer closes, `limit` bytes, or the timeout.
    func receive(limit: Int = 1 << 20) -> [UInt8] {
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Reads one HTTP/1.1 response with a Content-Length body; returns status and body.
    func readResponse() -> (status: Int, body: String)? {
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            if let headerEnd = find(data, Array("\r\n\r\n".utf8)) {
                let head = String(decoding: data[0..<headerEnd], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                guard let statusLine = lines.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else { return nil }
                var length = 0
                for l in lines.dropFirst() where l.lowercased().hasPrefix("content-length:") {
                    length = Int(l.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                let bodyStart = headerEnd + 4
                while data.count < bodyStart + length {
                    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                    if n <= 0 { return nil }
                    data.append(contentsOf: buf[0..<n])
                }
                return (status, String(decoding: data[bodyStart..<(bodyStart + length)], as: UTF8.self))
            }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return nil }
            data.append(contentsOf: buf[0..<n])
        }
    }

    private func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}

extension ServerProcess {
    var port: Int { Int(base.split(separator: ":").last!)! }

    /// Resident memory of the server process in KiB, from /proc.
    var residentKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }
}

/// One row of penguins for hand-written requests, tensor by tensor (feature order of the species model).
enum Row {
    static let tensors: [(name: String, json: String)] = [
        ("island", #"{"name":"island","datatype":"BYTES","shape":[1],"data":["Biscoe"]}"#),
        ("bill_length_mm", #"{"name":"bill_length_mm","datatype":"FP64","shape":[1],"data":[39.1]}"#),
        ("bill_depth_mm", #"{"name":"bill_depth_mm","datatype":"FP64","shape":[1],"data":[18.7]}"#),
        ("flipper_length_mm", #"{"name":"flipper_length_mm","datatype":"FP32","shape":[1,1],"data":[[181]]}"#),
        ("body_mass_g", #"{"name":"body_mass_g","datatype":"INT32","shape":[1],"data":[3750]}"#),
        ("sex", #"{"name":"sex","datatype":"BYTES","shape":[1],"data":["male"]}"#),
        ("year", #"{"name":"year","datatype":"INT64","shape":[1],"data":[2007]}"#),
    ]

    /// A request body with `replace` swapping a tensor (nil drops it) and `extra` tensors appended.
    static func body(replace: [String: String?] = [:], extra: [String] = [], id: String? = nil) -> String {
        var parts = [String]()
        for t in tensors {
            if let r = replace[t.name] {
                if let r { parts.append(r) }
            } else {
                parts.append(t.json)
            }
        }
        parts += extra
        let idPart = id.map { #""id":"\#($0)","# } ?? ""
        return #"{\#(idPart)"inputs":[\#(parts.joined(separator: ","))]}"#
    }
}
