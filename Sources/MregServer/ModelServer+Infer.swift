import Foundation
import MregCore
import MregML

extension ServingTable {
    /// The model of a request and the version it names, if it names one: `v3`, or `3` as Triton's
    /// clients send it (a number without leading zeros names the version `v` + number).
    func resolve(_ model: Substring, _ version: Substring?) throws(ServerError) -> (ModelEntry, LoadedVersion?) {
        guard let entry = models[String(model)] else {
            if let reason = failures[String(model)] { throw .notReady(model: String(model), reason: reason) }
            throw .unknownModel(String(model))
        }
        guard let version else { return (entry, nil) }
        guard let v = entry.versions[String(version)] ?? ServingTable.numbered(version).flatMap({ entry.versions[$0] }) else {
            throw .unknownVersion(model: String(model), version: String(version))
        }
        return (entry, v)
    }

    /// The mreg name of a version given as a number: `3` is `v3`; nil for anything else.
    static func numbered(_ version: Substring) -> String? {
        guard let first = version.utf8.first, first != UInt8(ascii: "0"), version.utf8.count <= 9,
              version.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return "v" + version
    }
}

extension ModelEntry {
    /// The served versions, oldest number first.
    var byNumber: [LoadedVersion] {
        versions.values.sorted { (Names.versionNumber($0.version) ?? 0) < (Names.versionNumber($1.version) ?? 0) }
    }
}

extension ModelServer {
    /// The part of inference every protocol shares: check the request against the version, predict,
    /// and hand a sample to data capture. `timing` gets the input and infer phases, from `since`.
    @inline(__always)
    func predict(_ request: InferRequest, on served: LoadedVersion, capture captureIt: Bool, since t0: UInt64,
                 timing: inout InferTiming) throws(ServerError) -> (CheckedInput, Predictions) {
        let checked = try served.check(request)
        let t1 = monotonicNanos()
        let predictions = served.model.predict(checked.input)
        timing.input = t1 &- t0
        timing.infer = monotonicNanos() &- t1
        timing.rows = predictions.rowCount
        if captureIt, let capture, capture.configuration.percent > 0,
           capture.configuration.percent >= 100 || draws.fraction100() < capture.configuration.percent {
            capture.submit(CaptureRecord(nanos: wallNanos(), id: request.id, version: served, input: checked.input, predictions: predictions))
        }
        return (checked, predictions)
    }
}
