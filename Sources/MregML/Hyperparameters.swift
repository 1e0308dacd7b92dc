import Foundation
import MregCore

/// A tunable parameter of an algorithm: its type, default, allowed range and search grid.
public struct ParameterInfo: Sendable, Equatable {
    /// The type and range of accepted values.
    public enum Kind: Sendable, Equatable {
        case integer(min: Int, max: Int)
        /// A real number in [min, max], or (min, max] when `minExclusive`.
        case real(min: Double, max: Double, minExclusive: Bool)
        case choice([String])
        case boolean
        /// Hidden layer sizes: one or two positive integers separated by a comma.
        case layers
    }

    /// Name used with `--param NAME=VALUE`.
    public var name: String
    /// Accepted values.
    public var kind: Kind
    /// Value when not given.
    public var defaultValue: JSONValue
    /// Values a `--trials` search draws from; empty when the parameter is not searched.
    public var grid: [JSONValue]
    /// One line for help text.
    public var summary: String

    /// The accepted values in words, for error messages and docs.
    public var expectation: String {
        switch kind {
        case .integer(let lo, let hi): return "an integer in \(lo)...\(hi)"
        case .real(let lo, let hi, let open):
            return "a number in \(open ? "(" : "[")\(JSONValue.format(lo)), \(JSONValue.format(hi))]"
        case .choice(let options): return "one of " + options.joined(separator: ", ")
        case .boolean: return "true or false"
        case .layers: return "one or two layer sizes in 1...4096 separated by a comma, like 64 or 64,32"
        }
    }

    /// Reads a `--param` value.
    func parse(_ text: String) throws(MLError) -> JSONValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let bad = MLError.invalidParameter(name: name, value: text, expected: expectation)
        switch kind {
        case .integer(let lo, let hi):
            guard let v = Int(trimmed), v >= lo, v <= hi else { throw bad }
            return .number(Double(v))
        case .real(let lo, let hi, let open):
            guard let v = NumberParser.parse(trimmed), v.isFinite, v <= hi, open ? v > lo : v >= lo else { throw bad }
            return .number(v)
        case .choice(let options):
            guard options.contains(trimmed.lowercased()) else { throw bad }
            return .string(trimmed.lowercased())
        case .boolean:
            switch trimmed.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: throw bad
            }
        case .layers:
            let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard (1...2).contains(parts.count) else { throw bad }
            var sizes = [JSONValue]()
            for part in parts {
                guard let v = Int(part), (1...4096).contains(v) else { throw bad }
                sizes.append(.number(Double(v)))
            }
            return .array(sizes)
        }
    }
}

/// The parameters of each algorithm and the trial plan of a search.
public enum Hyperparameters {
    /// Parameters of an algorithm, sorted by name.
    public static func parameters(for algorithm: Algorithm) -> [ParameterInfo] {
        let list: [ParameterInfo]
        switch algorithm {
        case .logistic:
            list = [
                ParameterInfo(name: "C", kind: .real(min: 0, max: 1e6, minExclusive: true), defaultValue: 1,
                              grid: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100],
                              summary: "inverse L2 strength, as scikit-learn's C"),
                ParameterInfo(name: "max_iter", kind: .integer(min: 1, max: 100_000), defaultValue: 100, grid: [],
                              summary: "most L-BFGS iterations"),
                ParameterInfo(name: "tol", kind: .real(min: 0, max: 1, minExclusive: true), defaultValue: 1e-4, grid: [],
                              summary: "stop when the largest gradient component is at most this"),
            ]
        case .linear:
            list = [
                ParameterInfo(name: "alpha", kind: .real(min: 0, max: 1e9, minExclusive: false), defaultValue: 1,
                              grid: [0.001, 0.01, 0.1, 0.3, 1, 3, 10, 30, 100, 1000],
                              summary: "L2 strength, as scikit-learn's Ridge alpha"),
            ]
        case .mlp:
            list = [
                ParameterInfo(name: "alpha", kind: .real(min: 0, max: 100, minExclusive: false), defaultValue: 1e-4,
                              grid: [1e-5, 1e-4, 1e-3, 1e-2], summary: "L2 strength on weights"),
                ParameterInfo(name: "batch_size", kind: .integer(min: 1, max: 1_000_000), defaultValue: 200,
                              grid: [32, 64, 200], summary: "rows per Adam step (capped at the training rows)"),
                ParameterInfo(name: "early_stopping", kind: .boolean, defaultValue: true, grid: [],
                              summary: "stop on the validation loss and keep the best epoch"),
                ParameterInfo(name: "hidden_layer_sizes", kind: .layers, defaultValue: [100],
                              grid: [[32], [64], [100], [64, 32], [128, 64]], summary: "units per hidden layer"),
                ParameterInfo(name: "learning_rate", kind: .real(min: 0, max: 1, minExclusive: true), defaultValue: 0.001,
                              grid: [0.0003, 0.001, 0.003, 0.01], summary: "Adam step size"),
                ParameterInfo(name: "max_epochs", kind: .integer(min: 1, max: 100_000), defaultValue: 200, grid: [],
                              summary: "most passes over the training rows"),
                ParameterInfo(name: "patience", kind: .integer(min: 1, max: 10_000), defaultValue: 10, grid: [],
                              summary: "epochs without improvement before stopping"),
                ParameterInfo(name: "tol", kind: .real(min: 0, max: 1, minExclusive: false), defaultValue: 1e-4, grid: [],
                              summary: "smallest loss decrease that counts as improvement"),
            ]
        case .gbdt:
            list = [
                ParameterInfo(name: "early_stopping", kind: .choice(["auto", "true", "false"]), defaultValue: "auto", grid: [],
                              summary: "stop on the validation loss; auto = when there are more than 10000 training rows"),
                ParameterInfo(name: "growth", kind: .choice(["leafwise", "depthwise"]), defaultValue: "leafwise", grid: [],
                              summary: "split the best leaf first, or level by level"),
                ParameterInfo(name: "l2_regularization", kind: .real(min: 0, max: 1e6, minExclusive: false), defaultValue: 0,
                              grid: [0, 0.1, 1, 10], summary: "L2 term on leaf values"),
                ParameterInfo(name: "learning_rate", kind: .real(min: 0, max: 1, minExclusive: true), defaultValue: 0.1,
                              grid: [0.03, 0.05, 0.1, 0.2, 0.3], summary: "shrinkage of each tree"),
                ParameterInfo(name: "max_bins", kind: .integer(min: 2, max: 255), defaultValue: 255, grid: [],
                              summary: "histogram bins per feature"),
                ParameterInfo(name: "max_depth", kind: .integer(min: 0, max: 64), defaultValue: 0, grid: [],
                              summary: "deepest tree level, 0 for no limit"),
                ParameterInfo(name: "max_iter", kind: .integer(min: 1, max: 100_000), defaultValue: 100, grid: [],
                              summary: "boosting iterations (trees per class)"),
                ParameterInfo(name: "max_leaf_nodes", kind: .integer(min: 2, max: 65_536), defaultValue: 31,
                              grid: [7, 15, 31, 63], summary: "most leaves per tree"),
                ParameterInfo(name: "min_samples_leaf", kind: .integer(min: 1, max: 1_000_000), defaultValue: 20,
                              grid: [5, 10, 20, 50], summary: "fewest training rows in a leaf"),
                ParameterInfo(name: "n_iter_no_change", kind: .integer(min: 1, max: 10_000), defaultValue: 10, grid: [],
                              summary: "iterations without validation improvement before stopping"),
                ParameterInfo(name: "validation_tol", kind: .real(min: 0, max: 1, minExclusive: false), defaultValue: 1e-7,
                              grid: [], summary: "smallest validation loss decrease that counts as improvement"),
            ]
        }
        return list.sorted { utf8Less($0.name, $1.name) }
    }

    /// Checks `--param` values against the algorithm's parameters and reads them.
    public static func parse(_ given: [String: String], for algorithm: Algorithm) throws(MLError) -> [String: JSONValue] {
        let specs = parameters(for: algorithm)
        var out = [String: JSONValue]()
        for key in given.keys.sorted(by: utf8Less) {
            guard let spec = specs.first(where: { $0.name == key }) else {
                throw .unknownParameter(algorithm: algorithm.rawValue, name: key, known: specs.map(\.name))
            }
            out[key] = try spec.parse(given[key]!)
        }
        return out
    }

    /// The parameter sets to train, in order.
    ///
    /// Trial 0 is always the defaults overlaid with the fixed values. When `trials` covers the whole grid of
    /// the searched (not fixed) parameters, the grid is enumerated instead (defaults first if they lie in
    /// it); otherwise trials 1... are distinct grid points drawn with a generator seeded from `seed`.
    public static func plan(for algorithm: Algorithm, fixed: [String: JSONValue], trials: Int, seed: UInt64) -> [[String: JSONValue]] {
        let specs = parameters(for: algorithm)
        var defaults = [String: JSONValue]()
        for spec in specs { defaults[spec.name] = fixed[spec.name] ?? spec.defaultValue }
        guard trials > 1 else { return [defaults] }
        let searched = specs.filter { !$0.grid.isEmpty && fixed[$0.name] == nil }
        guard !searched.isEmpty else { return [defaults] }
        var size = 1
        for spec in searched { size = size.multipliedReportingOverflow(by: spec.grid.count).overflow ? Int.max : size * spec.grid.count }

        func point(_ index: Int) -> [String: JSONValue] {
            var p = defaults
            var rest = index
            for spec in searched.reversed() {
                p[spec.name] = spec.grid[rest % spec.grid.count]
                rest /= spec.grid.count
            }
            return p
        }
        if trials >= size {
            var all = (0..<size).map(point)
            if let at = all.firstIndex(of: defaults) {
                all.remove(at: at)
                all.insert(defaults, at: 0)
            }
            return all
        }
        var plan = [defaults]
        var rng = SeededGenerator(seed: SeededGenerator.derive(seed, 0x7472_6961_6c73))
        var attempts = 0
        while plan.count < trials, attempts < trials * 100 {
            attempts += 1
            let candidate = point(rng.below(size))
            if !plan.contains(candidate) { plan.append(candidate) }
        }
        return plan
    }
}

/// Typed reads of a resolved parameter set (values already validated).
struct ParameterValues {
    let values: [String: JSONValue]

    func double(_ name: String) -> Double { values[name]?.doubleValue ?? 0 }
    func int(_ name: String) -> Int { Int(values[name]?.doubleValue ?? 0) }
    func string(_ name: String) -> String { values[name]?.stringValue ?? "" }
    func bool(_ name: String) -> Bool { values[name]?.boolValue ?? false }
    func ints(_ name: String) -> [Int] { (values[name]?.arrayValue ?? []).map { Int($0.doubleValue ?? 0) } }
}
