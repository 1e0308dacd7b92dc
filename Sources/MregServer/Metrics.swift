import Foundation
import MregCore
import Synchronization

/// A fixed set of counters updated with relaxed atomics: no lock on the request path.
final class AtomicCounters: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Atomic<Int>>
    let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        for i in 0..<count { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    @inline(__always) func add(_ i: Int, _ n: Int = 1) { slots[i].wrappingAdd(n, ordering: .relaxed) }
    @inline(__always) func load(_ i: Int) -> Int { slots[i].load(ordering: .relaxed) }
    @inline(__always) func store(_ i: Int, _ n: Int) { slots[i].store(n, ordering: .relaxed) }
}

/// Where a successful inference spent its time, for the statistics extension.
struct InferTiming: Sendable {
    /// Parsing and checking the request.
    var input: UInt64 = 0
    /// The model's prediction.
    var infer: UInt64 = 0
    /// Encoding the response.
    var output: UInt64 = 0
    /// Rows predicted.
    var rows = 0
}

/// Request counts by status and a latency histogram for one model version (or for requests that
/// named no servable model).
final class VersionStats: Sendable {
    let model: String
    let version: String
    /// Status codes counted separately; anything else is counted as `other`.
    static let statuses = [200, 400, 401, 404, 405, 413, 422, 500, 503]
    /// Histogram bucket upper bounds in seconds.
    static let buckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    private let counters: AtomicCounters
    // Layout: statuses + other | buckets + inf | sum of nanoseconds | the statistics extension's
    // success ns, compute input/infer/output ns, rows, last request (ms since 1970).
    // Literals rather than derived values, so the request path reads no lazily initialised globals.
    private static var statusBase: Int { 0 }
    private static var bucketBase: Int { 10 }  // statuses.count + 1
    private static var sumIndex: Int { 23 }  // bucketBase + buckets.count + 1
    private static var successNs: Int { 24 }
    private static var inputNs: Int { 25 }
    private static var inferNs: Int { 26 }
    private static var outputNs: Int { 27 }
    private static var rows: Int { 28 }
    private static var lastMillis: Int { 29 }

    init(model: String, version: String) {
        self.model = model
        self.version = version
        assert(VersionStats.bucketBase == VersionStats.statuses.count + 1)
        assert(VersionStats.sumIndex == VersionStats.bucketBase + VersionStats.buckets.count + 1)
        counters = AtomicCounters(count: VersionStats.lastMillis + 1)
    }

    @inline(__always) static func statusSlot(_ status: Int) -> Int {
        switch status {
        case 200: return 0
        case 400: return 1
        case 401: return 2
        case 404: return 3
        case 405: return 4
        case 413: return 5
        case 422: return 6
        case 500: return 7
        case 503: return 8
        default: return 9
        }
    }

    /// The histogram bucket of a duration (the bounds of `buckets`, unrolled).
    @inline(__always) static func bucket(_ ns: UInt64) -> Int {
        if ns <= 1_000_000 {
            return ns <= 100_000 ? 0 : ns <= 250_000 ? 1 : ns <= 500_000 ? 2 : 3
        }
        return ns <= 2_500_000 ? 4 : ns <= 5_000_000 ? 5 : ns <= 10_000_000 ? 6 : ns <= 25_000_000 ? 7
            : ns <= 50_000_000 ? 8 : ns <= 100_000_000 ? 9 : ns <= 250_000_000 ? 10 : ns <= 1_000_000_000 ? 11 : 12
    }

    /// Counts one request with its status and how long it took.
    @inline(__always) func record(status: Int, nanoseconds: UInt64) {
        counters.add(VersionStats.statusBase + VersionStats.statusSlot(status))
        counters.add(VersionStats.bucketBase + VersionStats.bucket(nanoseconds))
        counters.add(VersionStats.sumIndex, Int(truncatingIfNeeded: nanoseconds))
        counters.store(VersionStats.lastMillis, Int(wallNanos() / 1_000_000))
    }

    /// Counts one successful inference with the time of each phase.
    @inline(__always) func recordSuccess(nanoseconds: UInt64, timing: InferTiming) {
        record(status: 200, nanoseconds: nanoseconds)
        counters.add(VersionStats.successNs, Int(truncatingIfNeeded: nanoseconds))
        counters.add(VersionStats.inputNs, Int(truncatingIfNeeded: timing.input))
        counters.add(VersionStats.inferNs, Int(truncatingIfNeeded: timing.infer))
        counters.add(VersionStats.outputNs, Int(truncatingIfNeeded: timing.output))
        counters.add(VersionStats.rows, timing.rows)
    }

    /// This version's entry of `model_stats` in the statistics extension (Triton's field names).
    ///
    /// `version` is the version's number (`v3` is `3`), as Triton's clients expect. Requests run on
    /// the connection's thread as they arrive, so there is no queue: its time is 0. A request that
    /// failed counts in `fail` with its whole time.
    func statisticsDocument() -> JSONValue {
        let success = counters.load(VersionStats.statusBase)
        var failed = 0
        for i in 1...VersionStats.statuses.count { failed += counters.load(VersionStats.statusBase + i) }
        let successNs = counters.load(VersionStats.successNs)
        func duration(_ count: Int, _ ns: Int) -> JSONValue { ["count": .number(Double(count)), "ns": .number(Double(ns))] }
        return [
            "name": .string(model), "version": .string(Names.versionNumber(version).map(String.init) ?? version),
            "last_inference": .number(Double(counters.load(VersionStats.lastMillis))),
            "inference_count": .number(Double(counters.load(VersionStats.rows))),
            "execution_count": .number(Double(success)),
            "inference_stats": [
                "success": duration(success, successNs),
                "fail": duration(failed, max(0, counters.load(VersionStats.sumIndex) - successNs)),
                "queue": duration(success, 0),
                "compute_input": duration(success, counters.load(VersionStats.inputNs)),
                "compute_infer": duration(success, counters.load(VersionStats.inferNs)),
                "compute_output": duration(success, counters.load(VersionStats.outputNs)),
                "cache_hit": duration(0, 0), "cache_miss": duration(0, 0),
            ],
            "batch_stats": [],
        ]
    }

    /// Appends this version's series in Prometheus text format.
    func render(requests: inout String, latency: inout String) {
        let labels = "model=\"\(Prometheus.escape(model))\",version=\"\(Prometheus.escape(version))\""
        for (i, status) in VersionStats.statuses.enumerated() {
            let n = counters.load(VersionStats.statusBase + i)
            if n > 0 { requests += "mreg_inference_requests_total{\(labels),status=\"\(status)\"} \(n)\n" }
        }
        let other = counters.load(VersionStats.statusBase + VersionStats.statuses.count)
        if other > 0 { requests += "mreg_inference_requests_total{\(labels),status=\"other\"} \(other)\n" }
        var cumulative = 0
        for (i, bound) in VersionStats.buckets.enumerated() {
            cumulative += counters.load(VersionStats.bucketBase + i)
            latency += "mreg_inference_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += counters.load(VersionStats.bucketBase + VersionStats.buckets.count)
        latency += "mreg_inference_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
        let seconds = Double(counters.load(VersionStats.sumIndex)) / 1e9
        latency += "mreg_inference_request_duration_seconds_sum{\(labels)} \(seconds)\n"
        latency += "mreg_inference_request_duration_seconds_count{\(labels)} \(cumulative)\n"
    }
}

/// Every metric of the server; `render` writes the `/metrics` page.
final class ServerMetrics: Sendable {
    /// Stats per model version; entries are never removed, so counters stay monotonic across unload and reload.
    private let versions = Mutex<[String: VersionStats]>([:])
    /// Requests that named no servable model or version, or no endpoint at all.
    let unrouted = VersionStats(model: "", version: "")
    /// 0 captured, 1 dropped: queue full, 2 dropped: disk nearly full, 3 dropped: write error, 4 files rotated.
    let capture = AtomicCounters(count: 5)
    /// 0 load attempts failed, 1 loads succeeded, 2 unloads.
    let repository = AtomicCounters(count: 3)
    /// Other HTTP requests (health, metadata, metrics, repository) by status slot.
    let other = AtomicCounters(count: VersionStats.statuses.count + 1)

    /// The stats object for a version, created on first use.
    func stats(model: String, version: String) -> VersionStats {
        versions.withLock { all in
            let key = model + "\u{0}" + version
            if let s = all[key] { return s }
            let s = VersionStats(model: model, version: version)
            all[key] = s
            return s
        }
    }

    func render(table: ServingTable, captureQueueDepth: Int?) -> String {
        var requests = "# HELP mreg_inference_requests_total Inference requests by model, version and HTTP status.\n# TYPE mreg_inference_requests_total counter\n"
        var latency = "# HELP mreg_inference_request_duration_seconds Inference request latency, from routing to the response body.\n# TYPE mreg_inference_request_duration_seconds histogram\n"
        let all = versions.withLock { $0.values.sorted { ($0.model, $0.version) < ($1.model, $1.version) } }
        for s in all { s.render(requests: &requests, latency: &latency) }
        unrouted.render(requests: &requests, latency: &latency)
        var text = requests + latency
        text += "# HELP mreg_http_requests_total Requests to endpoints other than infer, by HTTP status.\n# TYPE mreg_http_requests_total counter\n"
        for (i, status) in VersionStats.statuses.enumerated() where other.load(i) > 0 {
            text += "mreg_http_requests_total{status=\"\(status)\"} \(other.load(i))\n"
        }
        if other.load(VersionStats.statuses.count) > 0 {
            text += "mreg_http_requests_total{status=\"other\"} \(other.load(VersionStats.statuses.count))\n"
        }
        text += "# HELP mreg_model_loaded Model versions in memory, by role (stable or canary); canary weight in percent.\n# TYPE mreg_model_loaded gauge\n"
        var weights = ""
        for name in table.models.keys.sorted() {
            guard let entry = table.models[name] else { continue }
            let m = Prometheus.escape(name)
            text += "mreg_model_loaded{model=\"\(m)\",version=\"\(Prometheus.escape(entry.stable.version))\",role=\"stable\"} 1\n"
            if let canary = entry.canary {
                text += "mreg_model_loaded{model=\"\(m)\",version=\"\(Prometheus.escape(canary.version.version))\",role=\"canary\"} 1\n"
                weights += "mreg_model_canary_weight{model=\"\(m)\",version=\"\(Prometheus.escape(canary.version.version))\"} \(canary.weight)\n"
            }
        }
        text += "# HELP mreg_models_loaded Number of model versions in memory.\n# TYPE mreg_models_loaded gauge\n"
        text += "mreg_models_loaded \(table.loadedCount)\n"
        text += "# HELP mreg_model_canary_weight Percent of requests without a version sent to the canary.\n# TYPE mreg_model_canary_weight gauge\n"
        text += weights
        text += "# HELP mreg_model_load_failures_total Load calls that failed (the previous version kept serving).\n# TYPE mreg_model_load_failures_total counter\n"
        text += "mreg_model_load_failures_total \(repository.load(0))\n"
        text += "# HELP mreg_model_loads_total Successful load calls (including start-up).\n# TYPE mreg_model_loads_total counter\n"
        text += "mreg_model_loads_total \(repository.load(1))\n"
        text += "# HELP mreg_model_unloads_total Successful unload calls.\n# TYPE mreg_model_unloads_total counter\n"
        text += "mreg_model_unloads_total \(repository.load(2))\n"
        text += "# HELP mreg_capture_records_total Inference records written by data capture.\n# TYPE mreg_capture_records_total counter\n"
        text += "mreg_capture_records_total \(capture.load(0))\n"
        text += "# HELP mreg_capture_dropped_total Capture records dropped, by reason; inference is never slowed down by capture.\n# TYPE mreg_capture_dropped_total counter\n"
        text += "mreg_capture_dropped_total{reason=\"queue_full\"} \(capture.load(1))\n"
        text += "mreg_capture_dropped_total{reason=\"disk_full\"} \(capture.load(2))\n"
        text += "mreg_capture_dropped_total{reason=\"write_error\"} \(capture.load(3))\n"
        text += "# HELP mreg_capture_files_rotated_total Capture files closed because they reached their size limit.\n# TYPE mreg_capture_files_rotated_total counter\n"
        text += "mreg_capture_files_rotated_total \(capture.load(4))\n"
        if let depth = captureQueueDepth {
            text += "# HELP mreg_capture_queue_depth Capture records waiting to be written.\n# TYPE mreg_capture_queue_depth gauge\n"
            text += "mreg_capture_queue_depth \(depth)\n"
        }
        return text
    }
}

enum Prometheus {
    /// Label values escape backslash, quote and newline.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
