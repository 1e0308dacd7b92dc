import Foundation

/// Who is making a commit: author and committer, resolved the way `git commit` does.
public struct Identity: Sendable, Equatable {
    public var author: Signature
    public var committer: Signature

    public init(author: Signature, committer: Signature) {
        self.author = author
        self.committer = committer
    }
}

extension Repository {
    /// Author and committer from `GIT_AUTHOR_*`/`GIT_COMMITTER_*` (NAME, EMAIL, DATE) or else the
    /// repository's `user.name`/`user.email` (local, global, XDG or system config). With neither,
    /// a `GitError.noIdentity` that says how to set one.
    public func identity(
        environment: [String: String] = ProcessInfo.processInfo.environment, now: Date = Date()
    ) throws(GitError) -> Identity {
        let configName = try configString("user.name")
        let configEmail = try configString("user.email")
        func person(_ role: String) throws(GitError) -> Signature {
            let name = nonEmpty(environment["GIT_\(role)_NAME"]) ?? nonEmpty(configName)
            let email = nonEmpty(environment["GIT_\(role)_EMAIL"]) ?? nonEmpty(configEmail)
            guard let name, let email else {
                throw GitError.noIdentity(
                    "set user.name and user.email with `git config`, or GIT_\(role)_NAME and GIT_\(role)_EMAIL")
            }
            var time = Int64(now.timeIntervalSince1970.rounded(.down))
            var offset: Int32 = 0
            if let text = nonEmpty(environment["GIT_\(role)_DATE"]) {
                guard let parsed = Identity.parseDate(text) else {
                    throw GitError.noIdentity("GIT_\(role)_DATE '\(text)' is not '@SECONDS +HHMM' or ISO 8601")
                }
                (time, offset) = parsed
            } else {
                offset = Int32(TimeZone.current.secondsFromGMT(for: now) / 60)
            }
            return Signature(name: name, email: email, time: time, offsetMinutes: offset)
        }
        return Identity(author: try person("AUTHOR"), committer: try person("COMMITTER"))
    }

    private func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return s
    }
}

extension Identity {
    /// Parses Git's date forms: `@1700000000 +0100`, `1700000000 +0100`, or ISO 8601.
    public static func parseDate(_ text: String) -> (Int64, Int32)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: " ")
        let secondsText = parts.first.map { $0.hasPrefix("@") ? $0.dropFirst() : $0 }
        if let secondsText, let seconds = Int64(secondsText) {
            var offset: Int32 = 0
            if parts.count == 2 {
                let zone = parts[1]
                guard zone.count == 5, let sign = zone.first, sign == "+" || sign == "-",
                    let hh = Int32(zone.dropFirst().prefix(2)), let mm = Int32(zone.suffix(2))
                else { return nil }
                offset = (sign == "-" ? -1 : 1) * (hh * 60 + mm)
            } else if parts.count > 2 {
                return nil
            }
            return (seconds, offset)
        }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: trimmed) else { return nil }
        var offset: Int32 = 0
        if !trimmed.hasSuffix("Z"), trimmed.count >= 6 {
            let zone = trimmed.suffix(6)
            if let sign = zone.first, sign == "+" || sign == "-", let hh = Int32(zone.dropFirst().prefix(2)),
                let mm = Int32(zone.suffix(2))
            {
                offset = (sign == "-" ? -1 : 1) * (hh * 60 + mm)
            }
        }
        return (Int64(date.timeIntervalSince1970), offset)
    }
}
