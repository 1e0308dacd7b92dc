import Foundation

/// The files `mreg init` and `mreg train` start from, bundled with the binary.
public enum Templates {
    /// The text of the template at `path` (relative to `templates/files`), or nil when absent.
    public static func text(_ path: String) -> String? {
        guard let url = Bundle.module.url(forResource: "files/" + path, withExtension: nil) else { return nil }
        return try? String(contentsOf: url, encoding: .utf8)
    }
}
