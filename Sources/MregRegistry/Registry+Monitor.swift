import Foundation
import MregCore
import MregML
#if canImport(Glibc)
import Glibc
#endif

/// What `mreg monitor` is asked to look at.
public struct MonitorOptions {
    public var reference: ModelReference
    /// Capture folders (their `*.jsonl` files) and files.
    public var captures: [String]
    /// Only records at or after this time (milliseconds since 1970).
    public var sinceMillis: Int64?
    /// A CSV file of ground truth joined on the request id, and its id column.
    public var labels: String?
    public var idColumn: String?

    public init(reference: ModelReference, captures: [String], sinceMillis: Int64? = nil, labels: String? = nil, idColumn: String? = nil) {
        self.reference = reference
        self.captures = captures
        self.sinceMillis = sinceMillis
        self.labels = labels
        self.idColumn = idColumn
    }
}

/// What was read from the capture files.
public struct CaptureWindow: Sendable {
    public var files = 0
    /// Records of this model version in the window, and their rows.
    public var records = 0
    public var rows = 0
    /// Lines that are not a capture record (skipped), with the first one's place and reason.
    public var malformedLines = 0
    public var firstMalformed: String?
    /// Unfinished last lines of files still being written (skipped).
    public var partialLines = 0
    /// Records of other models or versions (ignored), and records before `--since`.
    public var otherRecords = 0
    public var beforeSince = 0
    /// Times of the first and last record in the window (milliseconds since 1970).
    public var firstMillis: Int64?
    public var lastMillis: Int64?
}

/// Live accuracy (classification) or RMSE (regression) on the rows whose ground truth arrived.
public struct LiveAccuracy: Sendable {
    /// `accuracy` or `rmse`.
    public var metric: String
    public var value: Double?
    /// The floor (accuracy) or ceiling (RMSE); nil when not configured.
    public var bound: Double?
    /// Captured rows with a label, labels whose request was not in the window.
    public var labeledRows: Int
    public var unmatchedLabels: Int
    public var status: FeatureDrift.Status
    public var passed: Bool { status != .drift }
}

/// The result of a `--on-drift` command.
public struct HookResult: Sendable {
    public var command: String
    public var exitStatus: Int32
}

extension Registry {
    /// Compares the captured inputs of one model version with its training baseline and, with
    /// labels, checks live accuracy; thresholds from `mreg.yaml`'s `monitoring:` section.
    public func monitor(_ options: MonitorOptions) throws -> MonitorReport {
        let (snap, version) = try resolve(options.reference)
        let model = options.reference.model
        let config = try snap.config().monitoring
        let path = Snapshot.versionPath(model, version) + "/baseline.json"
        guard let bytes = try snap.data(path) else {
            throw RegistryError.invalidInput("\(model)@\(version) has no baseline.json (registered without a built-in trainer); nothing to compare captures with")
        }
        let baseline: BaselineFile
        do {
            baseline = try BaselineFile(data: bytes, file: "models/\(model)/\(version)/baseline.json")
        } catch {
            throw RegistryError.invalidInput(error.description)
        }
        return try Registry.monitor(model: model, version: version, reference: options.reference.description, baseline: baseline,
                                    config: config, options: options)
    }

    /// The monitor on a baseline already read: scans, checks, joins labels.
    public static func monitor(model: String, version: String, reference: String, baseline: BaselineFile, config: MonitoringConfig,
                               options: MonitorOptions) throws -> MonitorReport {
        let files = try captureFiles(options.captures)
        var labels: LabelSet?
        if let path = options.labels {
            guard let column = options.idColumn else { throw RegistryError.invalidInput("--labels needs --id-column (the request id column)") }
            labels = try LabelSet.read(path, idColumn: column, target: baseline.target?.name)
        }
        let schema = CaptureSchema(model: model, version: version, features: baseline.features, sinceMillis: options.sinceMillis,
                                   wantsOutputs: labels != nil)
        let scan = try CaptureScanner.scan(files: files, schema: schema)
        let thresholds = DriftThresholds(
            kSigma: config.kSigma, ksAlpha: config.ksAlpha, chiSquareAlpha: config.chiSquareAlpha, jsMax: config.jsMax,
            missingRateIncrease: config.missingRateIncrease, minRows: config.minRows)
        let features = scan.checkFeatures(baseline.features, thresholds: thresholds)
        var report = MonitorReport(
            model: model, version: version, reference: reference, window: scan.window, features: features, thresholds: config)
        if let labels {
            report.accuracy = labels.score(scan.outputs, classification: baseline.target.map { !$0.isNumeric } ?? true, config: config)
        }
        return report
    }

    /// The files to read: each folder's `*.jsonl` files by name, then the files named.
    static func captureFiles(_ paths: [String]) throws -> [String] {
        guard !paths.isEmpty else { throw RegistryError.invalidInput("--capture is required (a capture folder or JSON Lines files)") }
        var out = [String]()
        let fm = FileManager.default
        for path in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw RegistryError.invalidInput("--capture '\(path)' does not exist") }
            if isDir.boolValue {
                let names: [String]
                do {
                    names = try fm.contentsOfDirectory(atPath: path)
                } catch {
                    throw RegistryError.invalidInput("cannot read the capture folder '\(path)'")
                }
                out += names.filter { $0.hasSuffix(".jsonl") }.sorted().map { (path as NSString).appendingPathComponent($0) }
            } else {
                out.append(path)
            }
        }
        return out
    }

    /// Runs `command` with `/bin/sh -c`, `MREG_MONITOR_REPORT` naming the JSON report; its exit status.
    public static func runHook(_ command: String, reportPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HookResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var env = environment
        env["MREG_MONITOR_REPORT"] = reportPath
        process.environment = env
        do {
            try process.run()
        } catch {
            throw RegistryError.invalidInput("cannot run the drift command: \(error.localizedDescription)")
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return HookResult(command: command, exitStatus: status)
    }

    /// Reads `--since`: an ISO 8601 time (`2026-11-22T18:00:00Z`, with fractions or an offset), a
    /// date (`2026-11-22`, midnight UTC), or an age (`90m`, `24h`, `7d`) before `now`.
    public static func parseSince(_ text: String, now: Date = Date()) throws -> Int64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let unit = t.last, let n = Double(t.dropLast()), n >= 0, let seconds = ["s": 1.0, "m": 60, "h": 3600, "d": 86400][String(unit)] {
            return Int64(((now.timeIntervalSince1970 - n * seconds) * 1000).rounded(.down))
        }
        var iso = t.count == 10 ? t + "T00:00:00Z" : t
        var offset: Int64 = 0
        // An offset like +01:00 instead of Z.
        if iso.count > 6, !iso.hasSuffix("Z") {
            let tail = iso.suffix(6)
            if let sign = tail.first, sign == "+" || sign == "-", tail.dropFirst(3).first == ":",
               let h = Int64(tail.dropFirst().prefix(2)), let m = Int64(tail.suffix(2)) {
                offset = (sign == "+" ? 1 : -1) * (h * 60 + m) * 60_000
                iso = String(iso.dropLast(6)) + "Z"
            }
        }
        var bytes = Array(iso.utf8)
        if let millis = RecordReader.isoMillis(&bytes, bytes.count) { return millis - offset }
        throw RegistryError.invalidInput("--since '\(text)' is not a time (write 2026-11-22T18:00:00Z, 2026-11-22, or an age like 24h or 7d)")
    }
}

// MARK: - Labels

/// Ground truth by request id: the labels of each id's rows, in order.
struct LabelSet {
    var byID: [String: [String]]
    var rows: Int

    static func read(_ path: String, idColumn: String, target: String?) throws -> LabelSet {
        let (_, table) = try Registry.readTable(path)
        let source = (path as NSString).lastPathComponent
        guard let ids = table.column(idColumn) else {
            throw RegistryError.invalidInput(MLError.missingColumn(source: source, name: idColumn, available: table.columnNames).description)
        }
        let others = table.columnNames.filter { $0 != idColumn }
        let name: String
        if let target, table.columnIndex(target) != nil {
            name = target
        } else if others.count == 1 {
            name = others[0]
        } else {
            throw RegistryError.invalidInput(MLError.missingColumn(source: source, name: target ?? "target", available: table.columnNames).description)
        }
        let truth = table.column(name)!
        var byID = [String: [String]]()
        var rows = 0
        for (id, label) in zip(ids, truth) {
            guard let id, let label else { continue }
            byID[id, default: []].append(label)
            rows += 1
        }
        return LabelSet(byID: byID, rows: rows)
    }

    /// Accuracy or RMSE of the captured predictions that have a label, checked against its bound.
    func score(_ outputs: [CapturedOutputs], classification: Bool, config: MonitoringConfig) -> LiveAccuracy {
        var seen = Set<String>()
        var matched = 0, correct = 0
        var squares = 0.0
        var usedLabels = 0
        for o in outputs where seen.insert(o.id).inserted {
            guard let truth = byID[o.id] else { continue }
            let count = min(truth.count, classification ? (o.labels?.count ?? 0) : (o.values?.count ?? 0))
            usedLabels += count
            for i in 0..<count {
                if classification {
                    let predicted = o.labels![i]
                    if predicted == truth[i] || (Double(predicted) != nil && Double(predicted) == Double(truth[i])) { correct += 1 }
                    matched += 1
                } else if let y = Double(truth[i].trimmingCharacters(in: .whitespaces)), o.values![i].isFinite {
                    squares += (o.values![i] - y) * (o.values![i] - y)
                    matched += 1
                }
            }
        }
        let metric = classification ? "accuracy" : "rmse"
        let bound = classification ? config.accuracyFloor : config.rmseCeiling
        var result = LiveAccuracy(metric: metric, value: nil, bound: bound, labeledRows: matched, unmatchedLabels: rows - usedLabels, status: .insufficient)
        guard matched > 0 else { return result }
        let value = classification ? Double(correct) / Double(matched) : (squares / Double(matched)).squareRoot()
        result.value = value
        guard matched >= config.minRows else { return result }
        if let bound {
            result.status = (classification ? value >= bound : value <= bound) ? .ok : .drift
        } else {
            result.status = .ok
        }
        return result
    }
}

// MARK: - Scanning capture files

/// The predictions of one captured request with an id, for the labels join.
struct CapturedOutputs: Sendable {
    var id: String
    var labels: [String]?
    var values: [Double]?
}

/// What a scan looks for: one model version's records and its features.
struct CaptureSchema: Sendable {
    let model: [UInt8]
    let version: [UInt8]
    let names: [[UInt8]]
    let numeric: [Bool]
    let sinceMillis: Int64?
    let wantsOutputs: Bool

    init(model: String, version: String, features: [FeatureBaseline], sinceMillis: Int64?, wantsOutputs: Bool) {
        self.model = Array(model.utf8)
        self.version = Array(version.utf8)
        names = features.map { Array($0.name.utf8) }
        numeric = features.map(\.isNumeric)
        self.sinceMillis = sinceMillis
        self.wantsOutputs = wantsOutputs
    }
}

/// Category counts of one categorical feature, keyed by the label's bytes.
struct CategoryCounter {
    var keys = [[UInt8]]()
    var counts = [Int]()
    var index = [[UInt8]: Int]()

    /// The slot of a label, added when new; a linear search while there are few.
    mutating func slot(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        if keys.count <= 16 {
            for (i, k) in keys.enumerated() where k.count == n {
                if n == 0 || k.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) == 0 }) { return i }
            }
            return add(Array(UnsafeBufferPointer(start: p, count: n)))
        }
        let key = Array(UnsafeBufferPointer(start: p, count: n))
        if let i = index[key] { return i }
        return add(key)
    }

    mutating func add(_ key: [UInt8]) -> Int {
        keys.append(key)
        counts.append(0)
        index[key] = keys.count - 1
        return keys.count - 1
    }

    func merged(into out: inout [String: Int]) {
        for (k, c) in zip(keys, counts) where c > 0 { out[String(decoding: k, as: UTF8.self), default: 0] += c }
    }
}

/// Why a line is not a capture record.
struct LineError: Error {
    var message: String
}

/// The result of scanning capture files: live values per feature and the window's counts.
final class CaptureScan {
    var window = CaptureWindow()
    var values: [[Double]]
    var categories: [CategoryCounter]
    var missing: [Int]
    var outputs = [CapturedOutputs]()
    /// Lines that parsed as records (of any model), to tell a JSON Lines file from anything else.
    var goodLines = 0
    var firstBadLine: String?

    init(featureCount: Int) {
        values = Array(repeating: [], count: featureCount)
        categories = Array(repeating: CategoryCounter(), count: featureCount)
        missing = Array(repeating: 0, count: featureCount)
    }

    /// Adds another file's scan (files merge in name order, so the result does not depend on threads).
    func absorb(_ o: CaptureScan) {
        window.files += o.window.files
        window.records += o.window.records
        window.rows += o.window.rows
        window.malformedLines += o.window.malformedLines
        if window.firstMalformed == nil { window.firstMalformed = o.window.firstMalformed }
        window.partialLines += o.window.partialLines
        window.otherRecords += o.window.otherRecords
        window.beforeSince += o.window.beforeSince
        if let t = o.window.firstMillis { window.firstMillis = min(window.firstMillis ?? t, t) }
        if let t = o.window.lastMillis { window.lastMillis = max(window.lastMillis ?? t, t) }
        for f in 0..<values.count {
            values[f].append(contentsOf: o.values[f])
            missing[f] += o.missing[f]
            for (k, c) in zip(o.categories[f].keys, o.categories[f].counts) where c > 0 {
                let slot = k.withUnsafeBufferPointer { categories[f].slot($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, k.count) }
                categories[f].counts[slot] += c
            }
        }
        outputs.append(contentsOf: o.outputs)
    }

    /// The drift checks of each feature, numeric ones in parallel (sorting a million values each).
    func checkFeatures(_ features: [FeatureBaseline], thresholds: DriftThresholds) -> [FeatureDrift] {
        let results = Slots<FeatureDrift>(count: features.count)
        let values = self.values, categories = self.categories, missing = self.missing
        DispatchQueue.concurrentPerform(iterations: features.count) { f in
            let feature = features[f]
            let result: FeatureDrift
            if feature.isNumeric {
                result = Drift.checkNumeric(feature, sorted: Drift.sorted(values[f]), missing: missing[f], thresholds: thresholds)
            } else {
                var counts = [String: Int]()
                categories[f].merged(into: &counts)
                result = Drift.checkCategorical(feature, live: counts, missing: missing[f], thresholds: thresholds)
            }
            results.set(f, result)
        }
        return results.all
    }
}

/// Results written by parallel workers, one slot each.
final class Slots<T>: @unchecked Sendable {
    private var items: [T?]
    private let lock = NSLock()
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) {
        lock.lock()
        items[i] = value
        lock.unlock()
    }
    var all: [T] { items.map { $0! } }
    var raw: [T?] { items }
}

/// Reads capture files with a byte-level scanner: one pass, no dictionaries per record.
enum CaptureScanner {
    /// Scans the files (two at a time) and merges them in order.
    static func scan(files: [String], schema: CaptureSchema) throws -> CaptureScan {
        let results = Slots<Result<CaptureScan, RegistryError>>(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            results.set(i, Result { () throws(RegistryError) -> CaptureScan in try scanFile(files[i], schema: schema) })
        }
        let total = CaptureScan(featureCount: schema.names.count)
        for result in results.raw {
            total.absorb(try result!.get())
        }
        return total
    }

    static func scanFile(_ path: String, schema: CaptureSchema) throws(RegistryError) -> CaptureScan {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw RegistryError.invalidInput("cannot read capture file '\(path)'")
        }
        let scan = CaptureScan(featureCount: schema.names.count)
        scan.window.files = 1
        data.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress, raw.count > 0 else { return }
            var reader = RecordReader(schema: schema, scan: scan)
            var start = 0
            var line = 0
            let end = raw.count
            while start < end {
                line += 1
                let rest = end - start
                guard let nl = memchr(base + start, 0x0A, rest) else {
                    // The server writes whole lines: a last line without its newline is still being written.
                    if !isBlank(base + start, rest) { scan.window.partialLines += 1 }
                    break
                }
                let lineEnd = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                if !isBlank(base + start, lineEnd - start) {
                    do throws(LineError) {
                        try reader.read(base + start, lineEnd - start)
                        scan.goodLines += 1
                    } catch {
                        scan.window.malformedLines += 1
                        if scan.window.firstMalformed == nil {
                            scan.window.firstMalformed = "\((path as NSString).lastPathComponent) line \(line): \(error.message)"
                        }
                    }
                }
                start = lineEnd + 1
            }
        }
        if scan.goodLines == 0, scan.window.malformedLines > 0 {
            throw RegistryError.invalidInput("'\(path)' is not a JSON Lines capture file (\(scan.window.firstMalformed ?? "no record"))")
        }
        return scan
    }

    static func isBlank(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n {
            switch p[i] {
            case 0x20, 0x09, 0x0D: continue
            default: return false
            }
        }
        return true
    }
}

/// Parses one capture record in place and, when it belongs to the window, adds its values.
///
/// Values go straight into the scan's columns and are taken back when the record turns out to be
/// malformed, of another model, or too old, so a record costs no allocation.
struct RecordReader {
    let schema: CaptureSchema
    let scan: CaptureScan
    var p: UnsafePointer<UInt8> = UnsafePointer(bitPattern: 1)!
    var pos = 0
    var end = 0
    // Per record.
    var marks: [Int]
    var seen: [Bool]
    var lengths: [Int]
    var pendingMissing: [Int]
    var pendingCategories = [(feature: Int, slot: Int)]()
    var numberBuffer = [CChar](repeating: 0, count: 64)

    init(schema: CaptureSchema, scan: CaptureScan) {
        self.schema = schema
        self.scan = scan
        let n = schema.names.count
        marks = Array(repeating: 0, count: n)
        seen = Array(repeating: false, count: n)
        lengths = Array(repeating: 0, count: n)
        pendingMissing = Array(repeating: 0, count: n)
    }

    func fail(_ message: String) -> LineError { LineError(message: message + " at byte \(pos + 1)") }

    mutating func read(_ line: UnsafePointer<UInt8>, _ count: Int) throws(LineError) {
        p = line
        pos = 0
        end = count
        let n = schema.names.count
        for f in 0..<n {
            marks[f] = scan.values[f].count
            seen[f] = false
            lengths[f] = 0
            pendingMissing[f] = 0
        }
        pendingCategories.removeAll(keepingCapacity: true)
        do {
            try parse()
        } catch {
            rollBack()
            throw error
        }
    }

    mutating func rollBack() {
        for f in 0..<schema.names.count where scan.values[f].count > marks[f] {
            scan.values[f].removeSubrange(marks[f]...)
        }
    }

    mutating func parse() throws(LineError) {
        skipSpace()
        guard pos < end, p[pos] == UInt8(ascii: "{") else { throw fail("not a JSON object") }
        pos += 1
        var modelMatch: Bool?
        var versionMatch: Bool?
        var rows: Int?
        var millis: Int64?
        var tsSeen = false
        var id: String?
        var outputs: CapturedOutputs?
        skipSpace()
        if pos < end, p[pos] == UInt8(ascii: "}") { throw fail("empty record") }
        while true {
            skipSpace()
            let key = try stringRange()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            switch keyName(key) {
            case .ts:
                let s = try stringRange()
                tsSeen = true
                millis = RecordReader.isoMillis(p + s.start, s.end - s.start)
            case .id:
                if peekNull() { pos += 4 } else { id = try decodedString() }
            case .model:
                let s = try stringRange()
                modelMatch = equal(s, schema.model)
                if modelMatch == false { return try other() }
            case .version:
                let s = try stringRange()
                versionMatch = equal(s, schema.version)
                if versionMatch == false { return try other() }
            case .rows:
                let v = try number()
                guard v >= 0, v == v.rounded(), v < 1e9 else { throw fail("'rows' must be a count") }
                rows = Int(v)
            case .inputs:
                try inputs()
            case .outputs:
                if schema.wantsOutputs { outputs = try self.outputs() } else { try skipValue(depth: 0) }
            case .other:
                try skipValue(depth: 0)
            }
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            if p[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            guard p[pos] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            pos += 1
            break
        }
        skipSpace()
        guard pos == end else { throw fail("unexpected data after the record") }
        guard modelMatch != nil, versionMatch != nil else { throw fail("record has no 'model' or 'version'") }
        guard let count = rows ?? seen.indices.first(where: { seen[$0] }).map({ lengths[$0] }) else {
            throw fail("record has no 'rows' or 'inputs'")
        }
        for f in 0..<seen.count where seen[f] && lengths[f] != count {
            throw LineError(message: "input '\(String(decoding: schema.names[f], as: UTF8.self))' has \(lengths[f]) values for \(count) rows")
        }
        guard tsSeen || schema.sinceMillis == nil else { throw fail("record has no 'ts'") }
        if let since = schema.sinceMillis {
            guard let millis else { throw LineError(message: "'ts' is not a time like 2026-11-22T18:00:00.123Z") }
            if millis < since {
                scan.window.beforeSince += 1
                rollBack()
                return
            }
        }
        // The record is in the window.
        scan.window.records += 1
        scan.window.rows += count
        if let millis {
            scan.window.firstMillis = min(scan.window.firstMillis ?? millis, millis)
            scan.window.lastMillis = max(scan.window.lastMillis ?? millis, millis)
        }
        for f in 0..<seen.count {
            scan.missing[f] += seen[f] ? pendingMissing[f] : count
        }
        for c in pendingCategories { scan.categories[c.feature].counts[c.slot] += 1 }
        if let id, var outputs {
            outputs.id = id
            scan.outputs.append(outputs)
        }
    }

    /// A record of another model or version: counted, not parsed further.
    mutating func other() throws(LineError) {
        scan.window.otherRecords += 1
        rollBack()
    }

    enum Key { case ts, id, model, version, rows, inputs, outputs, other }

    func keyName(_ r: (start: Int, end: Int, escaped: Bool)) -> Key {
        let n = r.end - r.start
        let s = p + r.start
        func is_(_ word: StaticString) -> Bool {
            word.utf8CodeUnitCount == n && memcmp(s, word.utf8Start, n) == 0
        }
        switch n {
        case 2: return is_("ts") ? .ts : is_("id") ? .id : .other
        case 4: return is_("rows") ? .rows : .other
        case 5: return is_("model") ? .model : .other
        case 6: return is_("inputs") ? .inputs : .other
        case 7: return is_("version") ? .version : is_("outputs") ? .outputs : .other
        default: return .other
        }
    }

    func equal(_ r: (start: Int, end: Int, escaped: Bool), _ bytes: [UInt8]) -> Bool {
        let n = r.end - r.start
        guard n == bytes.count, !r.escaped else { return false }
        return n == 0 || bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, p + r.start, n) == 0 }
    }

    // MARK: inputs

    mutating func inputs() throws(LineError) {
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if pos < end, p[pos] == UInt8(ascii: "}") {
            pos += 1
            return
        }
        var hint = 0
        let names = schema.names
        while true {
            skipSpace()
            let key = try stringRange()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            // The server writes features in schema order: try the next one first.
            var feature = -1
            if hint < names.count, equal(key, names[hint]) {
                feature = hint
            } else {
                for (i, name) in names.enumerated() where equal(key, name) {
                    feature = i
                    break
                }
            }
            if feature >= 0 {
                guard !seen[feature] else { throw fail("input '\(String(decoding: names[feature], as: UTF8.self))' appears twice") }
                seen[feature] = true
                try column(feature)
                hint = feature + 1
            } else {
                try skipValue(depth: 0)
            }
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            if p[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            guard p[pos] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in 'inputs'") }
            pos += 1
            return
        }
    }

    mutating func column(_ f: Int) throws(LineError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if pos < end, p[pos] == UInt8(ascii: "]") {
            pos += 1
            return
        }
        let numeric = schema.numeric[f]
        var count = 0
        while true {
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            let c = p[pos]
            if c == UInt8(ascii: "n") {
                guard peekNull() else { throw fail("invalid literal") }
                pos += 4
                pendingMissing[f] += 1
            } else if numeric {
                guard c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) else {
                    throw fail("input '\(String(decoding: schema.names[f], as: UTF8.self))' is numeric: expected a number or null")
                }
                let v = try number()
                scan.values[f].append(v)
            } else if c == UInt8(ascii: "\"") {
                let r = try stringRange()
                let slot: Int
                if r.escaped {
                    var text = try decode(r)
                    slot = text.withUTF8 { scan.categories[f].slot($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
                } else {
                    slot = scan.categories[f].slot(p + r.start, r.end - r.start)
                }
                pendingCategories.append((f, slot))
            } else if c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) {
                // A number for a categorical feature stands for its label, as in training data.
                let v = try number()
                var text = v == v.rounded() && abs(v) < 9.007_199_254_740_992e15 ? String(Int64(v)) : v.description
                let slot = text.withUTF8 { scan.categories[f].slot($0.baseAddress!, $0.count) }
                pendingCategories.append((f, slot))
            } else {
                throw fail("input '\(String(decoding: schema.names[f], as: UTF8.self))': expected a string, number or null")
            }
            count += 1
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            if p[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            guard p[pos] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            pos += 1
            break
        }
        lengths[f] = count
    }

    // MARK: outputs

    mutating func outputs() throws(LineError) -> CapturedOutputs {
        var out = CapturedOutputs(id: "")
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if pos < end, p[pos] == UInt8(ascii: "}") {
            pos += 1
            return out
        }
        while true {
            skipSpace()
            let key = try stringRange()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            let n = key.end - key.start
            if n == 5, memcmp(p + key.start, "label", 5) == 0 {
                var labels = [String]()
                try array { (r: inout RecordReader) throws(LineError) in
                    if r.peekNull() {
                        r.pos += 4
                        labels.append("")
                    } else if r.p[r.pos] == UInt8(ascii: "\"") {
                        labels.append(try r.decodedString())
                    } else {
                        let v = try r.number()
                        labels.append(v == v.rounded() && abs(v) < 9e15 ? String(Int64(v)) : v.description)
                    }
                }
                out.labels = labels
            } else if n == 5, memcmp(p + key.start, "value", 5) == 0 {
                var values = [Double]()
                try array { (r: inout RecordReader) throws(LineError) in
                    if r.peekNull() {
                        r.pos += 4
                        values.append(.nan)
                    } else {
                        values.append(try r.number())
                    }
                }
                out.values = values
            } else {
                try skipValue(depth: 0)
            }
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            if p[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            guard p[pos] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in 'outputs'") }
            pos += 1
            return out
        }
    }

    mutating func array(_ element: (inout RecordReader) throws(LineError) -> Void) throws(LineError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if pos < end, p[pos] == UInt8(ascii: "]") {
            pos += 1
            return
        }
        while true {
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            try element(&self)
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line") }
            if p[pos] == UInt8(ascii: ",") {
                pos += 1
                continue
            }
            guard p[pos] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            pos += 1
            return
        }
    }

    // MARK: tokens

    mutating func skipSpace() {
        while pos < end {
            let c = p[pos]
            if c == 0x20 || c == 0x09 || c == 0x0D { pos += 1 } else { return }
        }
    }

    mutating func expect(_ c: UInt8) throws(LineError) {
        guard pos < end, p[pos] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        pos += 1
    }

    func peekNull() -> Bool {
        pos + 4 <= end && p[pos] == UInt8(ascii: "n") && p[pos + 1] == UInt8(ascii: "u") && p[pos + 2] == UInt8(ascii: "l") && p[pos + 3] == UInt8(ascii: "l")
    }

    /// The bytes between a string's quotes, and whether they hold escapes.
    mutating func stringRange() throws(LineError) -> (start: Int, end: Int, escaped: Bool) {
        guard pos < end, p[pos] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        pos += 1
        let start = pos
        var escaped = false
        while pos < end {
            let c = p[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return (start, pos - 1, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                pos += 2
                continue
            }
            if c < 0x20 { throw fail("control character in string") }
            pos += 1
        }
        throw fail("unterminated string")
    }

    /// A string value, escapes decoded.
    mutating func decodedString() throws(LineError) -> String {
        let r = try stringRange()
        return r.escaped ? try decode(r) : String(decoding: UnsafeBufferPointer(start: p + r.start, count: r.end - r.start), as: UTF8.self)
    }

    func decode(_ r: (start: Int, end: Int, escaped: Bool)) throws(LineError) -> String {
        // The quotes around the range make it a JSON string for MregCore's parser.
        let buffer = UnsafeBufferPointer(start: p + r.start - 1, count: r.end - r.start + 2)
        var parser = JSONParser(bytes: buffer)
        do {
            return try parser.parseString()
        } catch {
            throw LineError(message: error.message)
        }
    }

    static let powers: [Double] = (0...22).map { pow(10, Double($0)) }

    /// A JSON number: exact decimal fast path (mantissa below 2^53, exponent within ±22), else strtod.
    mutating func number() throws(LineError) -> Double {
        let start = pos
        var negative = false
        if pos < end, p[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var exact = true
        let intStart = pos
        while pos < end, p[pos] >= 0x30, p[pos] <= 0x39 {
            let d = UInt64(p[pos] - 0x30)
            if digits < 18 {
                mantissa = mantissa * 10 + d
                if mantissa > 0 { digits += 1 }
            } else {
                exponent += 1
                if d != 0 { exact = false }
            }
            pos += 1
        }
        guard pos > intStart else { throw fail("invalid number") }
        if pos < end, p[pos] == UInt8(ascii: ".") {
            pos += 1
            let fracStart = pos
            while pos < end, p[pos] >= 0x30, p[pos] <= 0x39 {
                let d = UInt64(p[pos] - 0x30)
                if digits < 18 {
                    mantissa = mantissa * 10 + d
                    if mantissa > 0 { digits += 1 }
                    exponent -= 1
                } else if d != 0 {
                    exact = false
                }
                pos += 1
            }
            guard pos > fracStart else { throw fail("invalid number") }
        }
        if pos < end, p[pos] == UInt8(ascii: "e") || p[pos] == UInt8(ascii: "E") {
            pos += 1
            var sign = 1
            if pos < end, p[pos] == UInt8(ascii: "+") || p[pos] == UInt8(ascii: "-") {
                if p[pos] == UInt8(ascii: "-") { sign = -1 }
                pos += 1
            }
            let expStart = pos
            var e = 0
            while pos < end, p[pos] >= 0x30, p[pos] <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(p[pos] - 0x30) }
                pos += 1
            }
            guard pos > expStart else { throw fail("invalid number") }
            exponent += sign * e
        }
        if exact, mantissa < (1 << 53), exponent >= -22, exponent <= 22 {
            let m = Double(mantissa)
            let v = exponent < 0 ? m / RecordReader.powers[-exponent] : m * RecordReader.powers[exponent]
            return negative ? -v : v
        }
        let length = pos - start
        guard length < 63 else { throw fail("number too long") }
        return numberBuffer.withUnsafeMutableBufferPointer { buf in
            for i in 0..<length { buf[i] = CChar(bitPattern: p[start + i]) }
            buf[length] = 0
            return strtod(buf.baseAddress!, nil)
        }
    }

    /// Skips any JSON value.
    mutating func skipValue(depth: Int) throws(LineError) {
        guard depth < 64 else { throw fail("nesting too deep") }
        guard pos < end else { throw fail("unexpected end of line") }
        switch p[pos] {
        case UInt8(ascii: "\""):
            _ = try stringRange()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = p[pos] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            pos += 1
            skipSpace()
            if pos < end, p[pos] == close {
                pos += 1
                return
            }
            while true {
                skipSpace()
                if isObject {
                    _ = try stringRange()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                guard pos < end else { throw fail("unexpected end of line") }
                if p[pos] == UInt8(ascii: ",") {
                    pos += 1
                    continue
                }
                guard p[pos] == close else { throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
                pos += 1
                return
            }
        case UInt8(ascii: "t"):
            guard pos + 4 <= end, memcmp(p + pos, "true", 4) == 0 else { throw fail("invalid literal") }
            pos += 4
        case UInt8(ascii: "f"):
            guard pos + 5 <= end, memcmp(p + pos, "false", 5) == 0 else { throw fail("invalid literal") }
            pos += 5
        case UInt8(ascii: "n"):
            guard peekNull() else { throw fail("invalid literal") }
            pos += 4
        case UInt8(ascii: "-"), 0x30...0x39:
            _ = try number()
        default:
            throw fail("unexpected character")
        }
    }

    /// Milliseconds since 1970 of `YYYY-MM-DDTHH:MM:SS[.fff...]Z`; nil for anything else.
    static func isoMillis(_ s: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n >= 20, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"), s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: " "),
              s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":"), s[n - 1] == UInt8(ascii: "Z") else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for i in at..<(at + count) {
                let c = s[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            return v
        }
        guard let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
              let minute = digits(14, 2), let second = digits(17, 2), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var millis = 0
        if n > 20 {
            guard s[19] == UInt8(ascii: "."), n > 21 else { return nil }
            var scale = 100
            for i in 20..<(n - 1) {
                let c = s[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                millis += Int(c - 0x30) * scale
                scale /= 10
            }
        } else if n != 20 {
            return nil
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400_000 + Int64(hour * 3600 + minute * 60 + second) * 1000 + Int64(millis)
    }
}
