/// What is wrong with a name, a reference or a registry file, written for a terminal.
public enum CoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A whole file is unreadable (syntax, encoding, wrong top-level type).
    case invalidFile(file: String, message: String)
    /// One field of a file is missing, mistyped, unknown or out of range.
    case invalidField(file: String, field: String, message: String)
    /// A name or reference typed by a person does not follow the rules.
    case invalidName(kind: String, value: String, rule: String)

    public var description: String {
        switch self {
        case .invalidFile(let file, let message):
            return "\(file): \(message)"
        case .invalidField(let file, let field, let message):
            return "\(file): field '\(field)' \(message)"
        case .invalidName(let kind, let value, let rule):
            return "invalid \(kind) '\(value.prefix(80))': \(rule)"
        }
    }
}
