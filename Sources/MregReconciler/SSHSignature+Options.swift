import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The options field of an allowed-signers line, read as `ssh-keygen -Y verify` reads it
/// (`sshsigopt_parse`): `namespaces="…"`, `valid-after="…"`, `valid-before="…"`; `cert-authority`
/// and anything else is refused, so a line never means more to mreg than to ssh-keygen.
struct SignerOptions {
    var namespaces: [String]?
    var validAfter: Int64?
    var validBefore: Int64?

    struct Failure: Error {
        var reason: String
    }

    static func parse(_ field: String) throws(Failure) -> SignerOptions {
        var out = SignerOptions()
        for option in SignatureVerifier.splitOptions(field) {
            let lower = option.lowercased()
            if lower == "cert-authority" { throw Failure(reason: "cert-authority keys are not supported") }
            guard let eq = option.firstIndex(of: "=") else { throw Failure(reason: "unsupported option '\(option.prefix(60))'") }
            let name = lower[..<eq]
            let raw = option[option.index(after: eq)...]
            guard raw.count >= 2, raw.hasPrefix("\""), raw.hasSuffix("\"") else {
                throw Failure(reason: "the value of \(name) must be in double quotes")
            }
            let value = String(raw.dropFirst().dropLast())
            switch name {
            case "namespaces":
                out.namespaces = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            case "valid-after":
                guard let t = absoluteTime(value) else { throw Failure(reason: "valid-after '\(value.prefix(40))' is not YYYYMMDD[HHMM[SS]][Z]") }
                out.validAfter = t
            case "valid-before":
                guard let t = absoluteTime(value) else { throw Failure(reason: "valid-before '\(value.prefix(40))' is not YYYYMMDD[HHMM[SS]][Z]") }
                out.validBefore = t
            default:
                throw Failure(reason: "unsupported option '\(name)'")
            }
        }
        if let a = out.validAfter, let b = out.validBefore, b <= a {
            throw Failure(reason: "valid-before is not after valid-after")
        }
        return out
    }

    /// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, UTC with a trailing `Z` or `UTC`, else local
    /// time (as OpenSSH's `parse_absolute_time`); nil when it is none of those.
    static func absoluteTime(_ text: String) -> Int64? {
        var s = Substring(text)
        var utc = false
        if s.count > 1, s.last == "Z" || s.last == "z" {
            utc = true
            s = s.dropLast()
        } else if s.count > 3, s.suffix(3).uppercased() == "UTC" {
            utc = true
            s = s.dropLast(3)
        }
        guard [8, 12, 14].contains(s.count), s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let digits = Array(s).map { Int32(String($0))! }
        func number(_ from: Int, _ count: Int) -> Int32 { digits[from..<(from + count)].reduce(0) { $0 * 10 + $1 } }
        var t = tm()
        t.tm_year = number(0, 4) - 1900
        t.tm_mon = number(4, 2) - 1
        t.tm_mday = number(6, 2)
        if s.count >= 12 {
            t.tm_hour = number(8, 2)
            t.tm_min = number(10, 2)
        }
        if s.count == 14 { t.tm_sec = number(12, 2) }
        // strptime's ranges: a month 13 or a minute 61 is not a time.
        guard (0...11).contains(t.tm_mon), (1...31).contains(t.tm_mday), (0...23).contains(t.tm_hour),
              (0...59).contains(t.tm_min), (0...60).contains(t.tm_sec) else { return nil }
        t.tm_isdst = -1
        let seconds = utc ? timegm(&t) : mktime(&t)
        return seconds < 0 ? nil : Int64(seconds)
    }

    /// A time as `ssh-keygen` prints it in its errors, in UTC.
    static func format(_ time: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}

/// OpenSSH's patterns (`match_pattern`, `match_pattern_list`): `*` any run, `?` one character, a
/// leading `!` excludes; a list matches when some pattern matches and no excluding one does.
enum Pattern {
    enum ListMatch { case match, none, excluded }

    static func matchList(_ s: String, _ patterns: [String]) -> ListMatch {
        let subject = Array(s.utf8)
        var positive = false
        for raw in patterns {
            var p = Array(raw.utf8)
            let negated = p.first == UInt8(ascii: "!")
            if negated { p.removeFirst() }
            // Hostile files cannot make matching slow: OpenSSH caps a pattern list at 1024 bytes too.
            guard p.count <= 1024, match(subject[...], p[...]) else { continue }
            if negated { return .excluded }
            positive = true
        }
        return positive ? .match : .none
    }

    static func match(_ s: ArraySlice<UInt8>, _ p: ArraySlice<UInt8>) -> Bool {
        var s = s
        var p = p
        while true {
            guard let head = p.first else { return s.isEmpty }
            if head == UInt8(ascii: "*") {
                while p.first == UInt8(ascii: "*") { p = p.dropFirst() }
                guard !p.isEmpty else { return true }
                while !s.isEmpty {
                    if match(s, p) { return true }
                    s = s.dropFirst()
                }
                return false
            }
            guard let c = s.first else { return false }
            guard head == UInt8(ascii: "?") || head == c else { return false }
            s = s.dropFirst()
            p = p.dropFirst()
        }
    }
}
