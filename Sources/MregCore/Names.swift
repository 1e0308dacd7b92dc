/// Names people type, checked before any path is built from them.
public enum Names {
    /// Model and environment names: `[a-z0-9][a-z0-9._-]{0,63}`.
    public static func isValidModelName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...64).contains(u.count), isLowerAlnum(u[0]) else { return false }
        return u.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Checks a model name, throwing an error that states the rule.
    public static func model(_ s: String) throws(CoreError) -> String {
        guard isValidModelName(s) else {
            throw CoreError.invalidName(kind: "model name", value: s, rule: "use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
        return s
    }

    /// Checks an environment name (same rule as model names).
    public static func environment(_ s: String) throws(CoreError) -> String {
        guard isValidModelName(s) else {
            throw CoreError.invalidName(kind: "environment name", value: s, rule: "use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
        return s
    }

    /// Host names in manifests: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    public static func host(_ s: String) throws(CoreError) -> String {
        let u = Array(s.utf8)
        let ok = (1...64).contains(u.count) && isAlnum(u[0])
            && u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        guard ok else { throw CoreError.invalidName(kind: "host name", value: s, rule: "use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit") }
        return s
    }

    /// The number of a version name `vN` (N from 1, no leading zeros), nil for anything else.
    public static func versionNumber(_ s: String) -> Int? {
        let u = Array(s.utf8)
        guard u.count >= 2, u.count <= 10, u[0] == UInt8(ascii: "v"), u[1] != UInt8(ascii: "0") else { return nil }
        guard u.dropFirst().allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(String(decoding: u.dropFirst(), as: UTF8.self))
    }

    /// Checks a version name, throwing an error that states the rule.
    public static func version(_ s: String) throws(CoreError) -> String {
        guard versionNumber(s) != nil else {
            throw CoreError.invalidName(kind: "version", value: s, rule: "versions are v1, v2, ... as assigned by mreg")
        }
        return s
    }

    /// A relative file path inside a version folder: components of `[A-Za-z0-9._-]`, none of them
    /// `.`, `..` or empty, at most 8 deep and 255 bytes.
    public static func isValidFilePath(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 255 else { return false }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 8 else { return false }
        for part in parts {
            guard !part.isEmpty, part != ".", part != "..", part.utf8.count <= 128 else { return false }
            guard part.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }

    private static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
}

/// `MODEL@VERSION` or `MODEL@ENV`, as typed on the command line.
public struct ModelReference: Sendable, Equatable, CustomStringConvertible {
    public enum Target: Sendable, Equatable {
        case version(String)
        case environment(String)
    }

    public var model: String
    public var target: Target

    public init(model: String, target: Target) {
        self.model = model
        self.target = target
    }

    /// Parses `penguins@v3` or `penguins@production`.
    public init(parsing text: String) throws(CoreError) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw CoreError.invalidName(kind: "reference", value: text, rule: "write MODEL@VERSION (penguins@v3) or MODEL@ENV (penguins@production)")
        }
        model = try Names.model(String(parts[0]))
        let right = String(parts[1])
        if Names.versionNumber(right) != nil {
            target = .version(right)
        } else if right.hasPrefix("v"), right.dropFirst().allSatisfy(\.isNumber), !right.dropFirst().isEmpty {
            throw CoreError.invalidName(kind: "version", value: right, rule: "versions are v1, v2, ... as assigned by mreg")
        } else {
            target = .environment(try Names.environment(right))
        }
    }

    public var description: String {
        switch target {
        case .version(let v): return "\(model)@\(v)"
        case .environment(let e): return "\(model)@\(e)"
        }
    }
}
