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
