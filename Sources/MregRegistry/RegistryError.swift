import MregCore
import MregGit

/// What a registry operation could not do, written for a terminal.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case noRegistry(String)
    case alreadyRegistry(String)
    case unknownModel(String)
    case unknownVersion(model: String, version: String)
    case unknownEnvironment(String, known: [String])
    case notDeployed(model: String, environment: String)
    /// Bad input from the user: a flag, a file or a folder.
    case invalidInput(String)
    /// The branch kept moving under us; the caller may simply run again.
    case branchMoved(String)
    /// The main branch is neither local nor remote-tracking here: the message says what to fetch.
    case mainNotFound(String)
    case git(GitError)
    case format(CoreError)

    public var description: String {
        switch self {
        case .noRegistry(let detail): return "no registry found: \(detail)"
        case .alreadyRegistry(let path): return "'\(path)' is already a registry (it has mreg.yaml)"
        case .unknownModel(let m): return "model '\(m)' not found"
        case .unknownVersion(let m, let v): return "model '\(m)' has no version '\(v)'"
        case .unknownEnvironment(let e, let known):
            return "environment '\(e)' is not in mreg.yaml (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .notDeployed(let m, let e): return "model '\(m)' is not deployed in '\(e)'"
        case .invalidInput(let message): return message
        case .branchMoved(let branch): return "\(branch) moved, run again"
        case .mainNotFound(let detail): return detail
        case .git(let e): return e.description
        case .format(let e): return e.description
        }
    }
}

