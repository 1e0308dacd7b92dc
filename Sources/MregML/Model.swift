import Foundation
import MregCore

/// A trained model, loaded from its `model.json` artifact or fresh from training, ready to predict.
///
/// Everything prediction needs (one-hot index tables, inverse scales, flat weights) is built once at
/// load time; `predict` only reads, so one model can serve many threads at once.
public final class Model: Sendable {
    /// Classification or regression.
    public let task: Task
    /// The algorithm that produced the model.
    public let algorithm: Algorithm
    /// Input columns in schema order: `ModelInput.columns` follows this order.
    public let features: [FeatureSpec]
    /// Class labels in probability-column order (sorted); nil for regression.
    public let classes: [String]?
    /// Name of the predicted column.
    public let target: String
    /// The resolved parameters the model was trained with.
    public let params: [String: JSONValue]
    let preprocessor: Preprocessor
    let estimator: Estimator
    let classIndex: [String: Int]

    /// Rows preprocessed per block while predicting: small enough to stay in cache.
    static let block = 256

    init(task: Task, algorithm: Algorithm, target: String, classes: [String]?, preprocessor: Preprocessor,
         params: [String: JSONValue], estimator: Estimator) {
        self.task = task
        self.algorithm = algorithm
        self.target = target
        self.classes = classes
        self.features = preprocessor.features
        self.preprocessor = preprocessor
        self.params = params
        self.estimator = estimator
        var index = [String: Int]()
        for (i, c) in (classes ?? []).enumerated() { index[c] = i }
        self.classIndex = index
    }

    /// Parses and validates `model.json` bytes.
    public convenience init(data: Data) throws(MLError) {
        let json: JSONValue
        do {
            json = try JSONValue.parse(data)
        } catch {
            throw .invalidModel("not valid JSON: \(error.description)")
        }
        try self.init(artifact: json)
    }

    /// Number of values per row in `Predictions.probabilities` (classification) or 1 (regression).
    var outputWidth: Int { task == .classification ? (classes?.count ?? 0) : 1 }

    /// Predicts a batch of rows given column by column in feature order.
    ///
    /// Never traps on odd input: missing columns or cells read as missing values, a numeric feature given as
    /// text is parsed (non-numbers are missing), a categorical feature given as numbers uses their text
    /// (`2007`). Use `check(_:)` first to refuse such input instead.
    public func predict(_ input: ModelInput) -> Predictions {
        let rows = max(0, input.rowCount)
        let width = preprocessor.width
        let k = outputWidth
        var out = [Double](repeating: 0, count: rows * k)
        if rows > 0 {
            // Wide inputs get shorter blocks so scratch memory stays near 8 MB whatever the artifact says.
            let blockRows = max(1, min(Model.block, rows, (1 << 20) / max(width, 1)))
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: max(1, blockRows * width))
            defer { scratch.deallocate() }
            var work: MLPWorkspace? = nil
            if case .mlp(let m) = estimator { work = MLPWorkspace(sizes: m.sizes, batch: blockRows) }
            out.withUnsafeMutableBufferPointer { ob in
                var start = 0
                while start < rows {
                    let count = min(blockRows, rows - start)
                    preprocessor.transform(input.columns, start: start, count: count, into: scratch)
                    estimator.predict(scratch, rows: count, width: width, into: ob.baseAddress! + start * k, work: work)
                    start += count
                }
            }
        }
        guard task == .classification, let classes else {
            return Predictions(rowCount: rows, values: out)
        }
        var indices = [Int](repeating: 0, count: rows)
        var labels = [String]()
        labels.reserveCapacity(rows)
        out.withUnsafeBufferPointer { ob in
            for r in 0..<rows {
                let p = ob.baseAddress! + r * k
                var best = 0
                for c in 1..<k where p[c] > p[best] { best = c }
                indices[r] = best
                labels.append(classes[best])
            }
        }
        return Predictions(rowCount: rows, labels: labels, classIndices: indices, probabilities: out, classCount: k)
    }
}
