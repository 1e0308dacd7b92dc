import Foundation
import MregCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One host's answer to `GET /status`, or why there was none.
public struct HostReport: Sendable {
    public var url: String
    /// The status document, nil when the host did not answer in time (its state is then `unknown`).
    public var status: JSONValue?
    public var error: String?

    /// `converged`, `suspended`, `failed` (the tip was refused), `degraded` (serving all it can, some
    /// models not), `drift`, or `unknown`.
    public var state: String {
        guard let status else { return "unknown" }
        if status["converged"]?.boolValue == true { return "converged" }
        if status["suspended"]?.boolValue == true { return "suspended" }
        if let failed = status["failed"]?["commit"]?.stringValue, failed == status["desiredCommit"]?.stringValue { return "failed" }
        if !notServed.isEmpty { return "degraded" }
        return "drift"
    }

    /// Models the host cannot serve as desired, with the reason, in status order.
    public var notServed: [(model: String, reason: String)] {
        (status?["models"]?.arrayValue ?? []).compactMap { m in
            guard m["state"]?.stringValue == "failed", let name = m["name"]?.stringValue else { return nil }
            return (name, m["reason"]?.stringValue ?? "not loaded")
        }
    }
}

/// Asks each reconciler's `--listen` address for its status, all at once.
public enum FleetStatus {
    /// `urls` are base URLs (`http://10.0.0.5:9090`) or full `/status` URLs.
    public static func fetch(_ urls: [String], timeout: TimeInterval = 2) async -> [HostReport] {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.connectionProxyDictionary = [:]
        let session = URLSession(configuration: configuration)
        return await withTaskGroup(of: (Int, HostReport).self) { group in
            for (i, url) in urls.enumerated() {
                group.addTask { (i, await fetchOne(url, session: session, timeout: timeout)) }
            }
            var out = [HostReport?](repeating: nil, count: urls.count)
            for await (i, report) in group { out[i] = report }
            return out.compactMap { $0 }
        }
    }

    static func fetchOne(_ url: String, session: URLSession, timeout: TimeInterval) async -> HostReport {
        var base = url.contains("://") ? url : "http://" + url
        while base.hasSuffix("/") { base.removeLast() }
        let full = base.hasSuffix("/status") ? base : base + "/status"
        guard let target = URL(string: full) else { return HostReport(url: url, status: nil, error: "invalid URL") }
        var prepared = URLRequest(url: target)
        prepared.timeoutInterval = timeout
        let request = prepared
        // A hard deadline on top of URLSession's: a host that accepts and then stalls is unknown too,
        // even when the request ignores its cancellation.
        let result = await withHardDeadline(seconds: timeout + 0.5, onTimeout: HostReport(url: url, status: nil, error: "no answer within \(JSONValue.format(timeout))s")) {
            do {
                let (data, response) = try await session.settledData(for: request)
                guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
                    return HostReport(url: url, status: nil, error: "answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
                }
                guard let json = try? JSONValue.parse(data), json["schema"]?.intValue == 1 else {
                    return HostReport(url: url, status: nil, error: "not a reconciler status document")
                }
                return HostReport(url: url, status: json, error: nil)
            } catch {
                return HostReport(url: url, status: nil, error: networkErrorText(error, timeout: timeout))
            }
        }
        return result
    }
}
