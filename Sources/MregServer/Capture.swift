import Foundation
import MregML
#if canImport(Glibc)
import Glibc
#endif

/// Where and how much to capture.
public struct CaptureConfiguration: Sendable {
    /// Folder for the JSON Lines files (created if missing).
    public var directory: String
    /// Percent of inference requests captured, 0-100.
    public var percent: Double
    /// A file is closed and a new one started once it reaches this size.
    public var maxFileBytes: Int
    /// Records are dropped (and counted) while the disk has less free space than this.
    public var minFreeBytes: UInt64
    /// Records waiting to be written; beyond this they are dropped (and counted).
    public var queueCapacity: Int

    public init(directory: String, percent: Double, maxFileBytes: Int = 64 << 20, minFreeBytes: UInt64 = 256 << 20,
                queueCapacity: Int = 10_000) {
        self.directory = directory
        self.percent = percent
        self.maxFileBytes = maxFileBytes
        self.minFreeBytes = minFreeBytes
        self.queueCapacity = queueCapacity
    }
}

/// One captured inference, held as the values the request already had; encoded off the request path.
struct CaptureRecord: Sendable {
    let nanos: UInt64
    let id: String?
    let version: LoadedVersion
    let input: ModelInput
    let predictions: Predictions
}

/// Appends sampled inference records to JSON Lines files on its own thread.
///
/// The request path only appends to a bounded queue under a short lock; when the queue is full, or
/// the disk is nearly full, or a write fails, records are dropped and counted in the metrics.
final class CaptureWriter: @unchecked Sendable {
    let configuration: CaptureConfiguration
    private let metrics: ServerMetrics
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [CaptureRecord] = []
    private var stopping = false
    private var finished = false
    /// Records dropped on a full queue since the writer last looked.
    private var queueDrops = 0

    // Touched only by the writer thread: the drop reasons already warned about in this burst (a burst
    // ends when a batch is written again).
    private var warned = Set<String>()
    private var log: @Sendable (String) -> Void = { _ in }

    // Touched only by the writer thread.
    private var fd: Int32 = -1
    private var fileBytes = 0
    private var sequence = 0
    private let filePrefix: String

    init(configuration: CaptureConfiguration, metrics: ServerMetrics) throws(ServerError) {
        self.configuration = configuration
        self.metrics = metrics
        do {
            try FileManager.default.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        } catch {
            throw .storeIO(path: configuration.directory, reason: "cannot create the capture folder")
        }
        guard access(configuration.directory, W_OK) == 0 else {
            throw .storeIO(path: configuration.directory, reason: "the capture folder is not writable")
        }
        filePrefix = configuration.directory + "/capture-" + CaptureWriter.compactTime(wallNanos()) + "-\(getpid())-"
    }

    /// Starts the writer thread; `log` gets one warning line when records start being dropped.
    func start(log: @escaping @Sendable (String) -> Void) {
        self.log = log
        let thread = Thread { [self] in self.run() }
        thread.name = "mreg-capture"
        thread.start()
    }

    /// Queues a record, or drops it if the queue is full; never blocks for long.
    func submit(_ record: CaptureRecord) {
        condition.lock()
        if pending.count >= configuration.queueCapacity || stopping {
            queueDrops += 1
            condition.unlock()
            metrics.capture.add(1)
            return
        }
        pending.append(record)
        if pending.count == 1 { condition.signal() }
        condition.unlock()
    }

    var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Writes what is queued, then stops the thread (at shutdown).
    func finish() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        var out = [UInt8]()
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            var batch = [CaptureRecord]()
            swap(&batch, &pending)
            let stop = stopping
            let drops = queueDrops
            queueDrops = 0
            condition.unlock()
            if drops > 0 {
                dropping("queue_full", "the capture queue is full (--capture-queue \(configuration.queueCapacity))")
            } else if !batch.isEmpty {
                warned.remove("queue_full")
            }
            if !batch.isEmpty { write(batch, buffer: &out) }
            if stop && batch.isEmpty { break }
        }
        if fd >= 0 { close(fd) }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func write(_ batch: [CaptureRecord], buffer out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        for r in batch { CaptureWriter.encode(r, into: &out) }
        if freeBytes() < configuration.minFreeBytes + UInt64(out.count) {
            dropping("disk_full", "'\(configuration.directory)' has less than --capture-min-free-bytes \(configuration.minFreeBytes) free")
            metrics.capture.add(2, batch.count)
            return
        }
        if fd >= 0, fileBytes > 0, fileBytes + out.count > configuration.maxFileBytes {
            close(fd)
            fd = -1
            metrics.capture.add(4)
        }
        if fd < 0 {
            sequence += 1
            let name = filePrefix + String(format: "%06d", sequence) + ".jsonl"
            fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            fileBytes = 0
            guard fd >= 0 else {
                dropping("write_error", "cannot open '\(name)': \(String(cString: strerror(errno)))")
                metrics.capture.add(3, batch.count)
                return
            }
        }
        var written = 0
        let ok: Bool = out.withUnsafeBytes { raw in
            while written < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        fileBytes += written
        if ok {
            metrics.capture.add(0, batch.count)
            warned.remove("disk_full")
            warned.remove("write_error")
        } else {
            dropping("write_error", "cannot write to the capture file: \(String(cString: strerror(errno)))")
            metrics.capture.add(3, batch.count)
            close(fd)
            fd = -1
        }
    }

    /// Warns once per burst of drops for a reason, before they are counted.
    private func dropping(_ reason: String, _ why: String) {
        guard warned.insert(reason).inserted else { return }
        log("capture is dropping records (\(reason)): \(why); they are counted in mreg_capture_dropped_total")
    }

    private func freeBytes() -> UInt64 {
        var s = statvfs()
        guard statvfs(configuration.directory, &s) == 0 else { return 0 }
        return UInt64(s.f_bavail) &* UInt64(s.f_frsize)
    }

    /// One record as a line: `{"ts", "id", "model", "version", "inputs": {feature: [...]}, "outputs": {...}}`.
    static func encode(_ r: CaptureRecord, into out: inout [UInt8]) {
        let v = r.version
        out.append(contentsOf: #"{"ts":""#.utf8)
        out.append(contentsOf: isoTime(r.nanos).utf8)
        out.append(contentsOf: #"","id":"#.utf8)
        if let id = r.id { JSONWriter.string(id, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","model":"#.utf8)
        JSONWriter.string(v.name, to: &out)
        out.append(contentsOf: #","version":"#.utf8)
        JSONWriter.string(v.version, to: &out)
        out.append(contentsOf: #","rows":"#.utf8)
        JSONWriter.int(r.input.rowCount, to: &out)
        out.append(contentsOf: #","inputs":{"#.utf8)
        for (f, spec) in v.model.features.enumerated() {
            if f > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.string(spec.name, to: &out)
            out.append(contentsOf: ":[".utf8)
            switch r.input.columns[f] {
            case .numeric(let values):
                for (i, x) in values.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    if spec.type == .categorical, x.isFinite {
                        // Integer codes for a categorical feature are recorded as the label they stand for.
                        if x == x.rounded(), abs(x) < 9e15 { JSONWriter.string(String(Int64(x)), to: &out) } else { JSONWriter.string(x.description, to: &out) }
                    } else {
                        JSONWriter.double(x, to: &out)
                    }
                }
            case .categorical(let values):
                for (i, x) in values.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    if let x { JSONWriter.string(x, to: &out) } else { out.append(contentsOf: "null".utf8) }
                }
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #"},"outputs":{"#.utf8)
        let p = r.predictions
        if let indices = p.classIndices {
            out.append(contentsOf: #""label":["#.utf8)
            for (i, k) in indices.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: v.quotedClasses[k])
            }
            out.append(contentsOf: #"],"probabilities":["#.utf8)
            if let probabilities = p.probabilities, p.classCount > 0 {
                for row in 0..<p.rowCount {
                    if row > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(UInt8(ascii: "["))
                    for c in 0..<p.classCount {
                        if c > 0 { out.append(UInt8(ascii: ",")) }
                        JSONWriter.double(probabilities[row * p.classCount + c], to: &out)
                    }
                    out.append(UInt8(ascii: "]"))
                }
            }
            out.append(UInt8(ascii: "]"))
        } else {
            out.append(contentsOf: #""value":["#.utf8)
            for (i, x) in (p.values ?? []).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.double(x, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: "}}\n".utf8)
    }

    /// `2026-11-20T18:40:12.345Z`
    static func isoTime(_ nanos: UInt64) -> String {
        var t = time_t(nanos / 1_000_000_000)
        var parts = tm()
        gmtime_r(&t, &parts)
        let ms = Int(nanos / 1_000_000 % 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), ms)
    }

    /// `20261120T184012Z`, for file names that sort by time.
    static func compactTime(_ nanos: UInt64) -> String {
        var t = time_t(nanos / 1_000_000_000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
