import Foundation
import MregCore

/// How a pass ended.
public enum PassOutcome: String, Sendable {
    /// Nothing to do: the host serves what the branch tip says.
    case unchanged
    /// A new commit was applied.
    case applied
    /// The host had drifted (a folder deleted or edited, a model unloaded by hand) and was put back.
    case healed
    /// The tip commit was refused (invalid, unsigned, failed to load...); the previous state keeps serving.
    case rejected
    /// The remote or the server could not be reached; retried with backoff.
    case error
    /// Suspended: drift or a new commit is reported, nothing is changed.
    case suspended
}

/// One reconciliation pass, for the status history.
public struct PassRecord: Sendable, Equatable {
    public var started: Date
    public var seconds: Double
    public var outcome: PassOutcome
    /// The commit the pass aimed at (the tip, or the applied one when the tip was refused).
    public var commit: String?
    public var detail: String?
    /// True when the pass found what the one before it found (the same outcome, commit and
    /// detail): a refusal or an outage is logged once, and again only when its reason changes.
    public var repeatsPrevious = false

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "started": .string(isoTime(started)), "durationSeconds": .number((seconds * 10000).rounded() / 10000),
            "outcome": .string(outcome.rawValue),
        ]
        o["commit"] = commit.map(JSONValue.string) ?? .null
        o["detail"] = detail.map(JSONValue.string) ?? .null
        if repeatsPrevious { o["repeatsPrevious"] = true }
        return .object(o)
    }

    init(started: Date, seconds: Double, outcome: PassOutcome, commit: String?, detail: String?) {
        self.started = started
        self.seconds = seconds
        self.outcome = outcome
        self.commit = commit
        self.detail = detail
    }

    init?(json: JSONValue) {
        guard let s = json["started"]?.stringValue, let started = parseISOTime(s),
              let outcome = json["outcome"]?.stringValue.flatMap(PassOutcome.init(rawValue:)) else { return nil }
        self.init(started: started, seconds: json["durationSeconds"]?.doubleValue ?? 0, outcome: outcome,
                  commit: json["commit"]?.stringValue, detail: json["detail"]?.stringValue)
        repeatsPrevious = json["repeatsPrevious"]?.boolValue ?? false
    }
}

/// A commit that was refused, and why.
public struct Failure: Sendable, Equatable {
    public var commit: String
    public var reason: String
    public var at: Date

    var json: JSONValue { ["commit": .string(commit), "reason": .string(reason), "at": .string(isoTime(at))] }
}

/// What the reconciler keeps across restarts in `STORE/.mreg/state.json`, written atomically.
public struct PersistedState: Sendable, Equatable {
    public static let fileName = "state.json"
    public static let historyLimit = 20

    /// The last commit fully applied on this host.
    public var appliedCommit: String?
    /// The last refused commit: not retried until the branch moves.
    public var failed: Failure?
    /// The last passes, newest last.
    public var passes: [PassRecord] = []

    public init() {}

    var json: JSONValue {
        [
            "schema": 1, "appliedCommit": appliedCommit.map(JSONValue.string) ?? .null,
            "failed": failed?.json ?? .null, "passes": .array(passes.map(\.json)),
        ]
    }

    init(json: JSONValue) {
        appliedCommit = json["appliedCommit"]?.stringValue
        if let f = json["failed"], let c = f["commit"]?.stringValue, let r = f["reason"]?.stringValue {
            failed = Failure(commit: c, reason: r, at: f["at"]?.stringValue.flatMap(parseISOTime) ?? Date())
        }
        passes = (json["passes"]?.arrayValue ?? []).compactMap(PassRecord.init(json:))
    }

    mutating func record(_ pass: PassRecord) {
        passes.append(pass)
        if passes.count > PersistedState.historyLimit { passes.removeFirst(passes.count - PersistedState.historyLimit) }
    }
}

/// `2026-01-31T12:00:00.123Z`.
func isoTime(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

func parseISOTime(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
}
