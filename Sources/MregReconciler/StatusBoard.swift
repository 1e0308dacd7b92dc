import Foundation
import MregCore

/// The state of one model on this host, for `/status`.
public struct ModelStatus: Sendable, Equatable {
    public var name: String
    public var desired: ServingTarget?
    public var serving: ServingTarget?
    /// `serving` (as desired), `drift` (differs), `failed` (this host cannot load what is desired; it
    /// serves the rest), `unmanaged` (served but not asked for and not mreg's).
    public var state: String
    /// Why a `failed` model is not served as desired.
    public var reason: String?
    /// The engine that serves the model (`mreg`, `mlserver`); nil when none does.
    public var engine: String?

    var json: JSONValue {
        [
            "name": .string(name), "desired": desired?.json ?? .null, "serving": serving?.json ?? .null,
            "state": .string(state), "reason": reason.map(JSONValue.string) ?? .null,
            "engine": engine.map(JSONValue.string) ?? .null,
        ]
    }
}

/// Everything `/status` and `/metrics` report; replaced as a whole after each pass.
public struct ReconcilerStatus: Sendable {
    public var host: String
    public var environment: String
    public var branch: String
    public var remote: String
    public var server: String
    public var intervalSeconds: Double
    public var suspended = false
    public var converged = false
    /// The branch tip on the remote, as last seen.
    public var desiredCommit: String?
    public var appliedCommit: String?
    public var failed: Failure?
    public var lastError: (message: String, at: Date)?
    public var models: [ModelStatus] = []
    public var passes: [PassRecord] = []
    public var counters = Counters()
    /// The engines this host drives, in the order a model's format picks them.
    public var engines: [Engine] = []

    /// Monotonic counters, for Prometheus.
    public struct Counters: Sendable {
        public var passes: [PassOutcome: Int] = [:]
        public var refAdvertisements = 0
        public var fetches = 0
        public var materialized = 0
        public var loads = 0
        public var unloads = 0
        public var rollbacks = 0
        public var lastPassSeconds = 0.0
        public var lastSuccess: Date?
    }

    public var json: JSONValue {
        [
            "schema": 1, "host": .string(host), "environment": .string(environment), "branch": .string(branch),
            "remote": .string(remote), "server": .string(server), "intervalSeconds": .number(intervalSeconds),
            "suspended": .bool(suspended), "converged": .bool(converged),
            "desiredCommit": desiredCommit.map(JSONValue.string) ?? .null,
            "appliedCommit": appliedCommit.map(JSONValue.string) ?? .null,
            "failed": failed?.json ?? .null,
            "lastError": lastError.map { ["message": .string($0.message), "at": .string(isoTime($0.at))] } ?? .null,
            "models": .array(models.map(\.json)),
            "passes": .array(passes.reversed().map(\.json)),
            "engines": .array(engines.map { e in
                [
                    "kind": .string(e.kind.rawValue), "url": .string(e.url), "repository": e.repository.map(JSONValue.string) ?? .null,
                    "formats": .array(e.formats.map(JSONValue.string)), "splitsTraffic": .bool(e.splitsTraffic),
                ]
            }),
        ]
    }

    /// Prometheus text format.
    public var metrics: String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(JSONValue.format(value))\n" }
        }
        let hostLabel = "host=\"\(escape(host))\",environment=\"\(escape(environment))\""
        metric("mreg_reconcile_passes_total", "counter", "Reconciliation passes by outcome.",
               [PassOutcome.unchanged, .applied, .healed, .rejected, .error, .suspended].map {
                   ("{\(hostLabel),outcome=\"\($0.rawValue)\"}", Double(counters.passes[$0] ?? 0))
               })
        metric("mreg_reconcile_converged", "gauge", "1 when the host serves what the branch tip asks for.",
               [("{\(hostLabel)}", converged ? 1 : 0)])
        metric("mreg_reconcile_suspended", "gauge", "1 while changes are suspended.", [("{\(hostLabel)}", suspended ? 1 : 0)])
        metric("mreg_reconcile_drift_models", "gauge", "Models whose serving state differs from the desired one.",
               [("{\(hostLabel)}", Double(models.filter { $0.state == "drift" }.count))])
        metric("mreg_reconcile_ref_advertisements_total", "counter", "Ref advertisements asked of the remote.",
               [("{\(hostLabel)}", Double(counters.refAdvertisements))])
        metric("mreg_reconcile_fetches_total", "counter", "Fetches into the mirror.", [("{\(hostLabel)}", Double(counters.fetches))])
        metric("mreg_reconcile_versions_materialized_total", "counter", "Version folders written to the store.",
               [("{\(hostLabel)}", Double(counters.materialized))])
        metric("mreg_reconcile_loads_total", "counter", "Load calls to the model server.", [("{\(hostLabel)}", Double(counters.loads))])
        metric("mreg_reconcile_unloads_total", "counter", "Unload calls to the model server.", [("{\(hostLabel)}", Double(counters.unloads))])
        metric("mreg_reconcile_rollbacks_total", "counter", "Passes that restored the previous serving state.",
               [("{\(hostLabel)}", Double(counters.rollbacks))])
        metric("mreg_reconcile_last_pass_seconds", "gauge", "Duration of the last pass.", [("{\(hostLabel)}", counters.lastPassSeconds)])
        metric("mreg_reconcile_last_success_timestamp_seconds", "gauge", "When a pass last ended converged (Unix time).",
               [("{\(hostLabel)}", counters.lastSuccess.map { ($0.timeIntervalSince1970 * 1000).rounded() / 1000 } ?? 0)])
        if let applied = appliedCommit {
            metric("mreg_reconcile_applied_info", "gauge", "The commit this host serves.",
                   [("{\(hostLabel),commit=\"\(applied)\"}", 1)])
        }
        metric("mreg_reconcile_failed_commit", "gauge", "1 while the branch tip is a refused commit.",
               [("{\(hostLabel)}", failed != nil && failed?.commit == desiredCommit ? 1 : 0)])
        return out
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// The latest status, shared between the reconciler and the status endpoint.
public final class StatusBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ReconcilerStatus

    public init(_ initial: ReconcilerStatus) { value = initial }

    public var current: ReconcilerStatus {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func update(_ body: (inout ReconcilerStatus) -> Void) {
        lock.lock()
        body(&value)
        lock.unlock()
    }
}
