import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension URLSession {
    /// `data(for:)` that lets the request settle by itself (answer, error or the session's timeout)
    /// instead of cancelling it when the awaiting Swift task is cancelled: swift-corelibs-foundation
    /// can crash ("Trying to access a behaviour for a task that in not in the registry") when a
    /// task is cancelled while it completes, and a reconciler or `status --hosts` must never crash
    /// on shutdown or on a host that stalls. Every session here has request and resource timeouts.
    func settledData(for request: URLRequest) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let response {
                    continuation.resume(returning: (data ?? Data(), response))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }.resume()
        }
    }
}

/// A network error for a terminal: `timed out after 10 s`, `connection refused`, never
/// "NSURLErrorDomain error -1001".
func networkErrorText(_ error: Error, timeout: TimeInterval) -> String {
    guard let url = error as? URLError else { return (error as NSError).localizedDescription }
    switch url.code {
    case .timedOut: return "timed out after \(Int(timeout.rounded())) s"
    case .cannotConnectToHost: return "connection refused"
    case .cannotFindHost, .dnsLookupFailed: return "host not found"
    case .networkConnectionLost: return "the connection was closed before the answer"
    case .badServerResponse: return "not an HTTP answer"
    case .notConnectedToInternet: return "no network"
    default: return "network error \(url.code.rawValue)"
    }
}
