import Foundation

/// The files `mreg init`, `mreg train` and `mreg quickstart` start from, shipped beside the binary
/// in `mreg_MregTemplates.resources/files/`.
public enum Templates {
    /// The folder holding the templates, nil when this build has none beside it.
    public static let directory: String? = {
        let fm = FileManager.default
        var candidates = [String]()
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let dir = (exe as NSString).deletingLastPathComponent
            candidates.append(dir + "/mreg_MregTemplates.resources/files")
            candidates.append(dir + "/../share/mreg/templates")
        }
        if let env = ProcessInfo.processInfo.environment["MREG_TEMPLATES"] { candidates.insert(env, at: 0) }
        return candidates.first { fm.fileExists(atPath: $0) }
    }()

    /// The path of the template at `path` (relative to `templates/files`), nil when absent.
    public static func path(_ path: String) -> String? {
        guard let directory else { return nil }
        let full = directory + "/" + path
        return FileManager.default.fileExists(atPath: full) ? full : nil
    }

    /// The text of the template at `path` (relative to `templates/files`), nil when absent.
    public static func text(_ path: String) -> String? {
        guard let full = self.path(path) else { return nil }
        return try? String(contentsOfFile: full, encoding: .utf8)
    }
}
