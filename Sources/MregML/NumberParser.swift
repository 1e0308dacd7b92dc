import Foundation

/// Reads decimal numbers and missing-value markers straight from UTF-8 bytes.
enum NumberParser {
    /// Powers of ten that a Double holds exactly, for the fast path.
    static let exactPowers: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
        1e19, 1e20, 1e21, 1e22,
    ]

    /// The text markers read as a missing value (besides the empty field), for documentation and tests.
    static let missingMarkers = ["NA", "N/A", "n/a", "NaN", "nan", "null", "NULL"]

    /// Whether the bytes (already trimmed) spell a missing value: empty, `NA`, `N/A`, `n/a`, `NaN`, `nan`, `null`, `NULL`.
    @inline(__always)
    static func isMissing(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        switch count {
        case 0: return true
        case 2: return p[0] == 0x4E && p[1] == 0x41  // NA
        case 3:
            let a = p[0], b = p[1], c = p[2]
            if b == 0x2F { return (a == 0x4E && c == 0x41) || (a == 0x6E && c == 0x61) }  // N/A n/a
            if a == 0x4E && b == 0x61 && c == 0x4E { return true }  // NaN
            return a == 0x6E && b == 0x61 && c == 0x6E  // nan
        case 4:
            return (p[0] == 0x6E && p[1] == 0x75 && p[2] == 0x6C && p[3] == 0x6C)
                || (p[0] == 0x4E && p[1] == 0x55 && p[2] == 0x4C && p[3] == 0x4C)
        default: return false
        }
    }

    /// Narrows `start..<end` to drop ASCII spaces and tabs at both ends.
    @inline(__always)
    static func trim(_ p: UnsafePointer<UInt8>, _ start: inout Int, _ end: inout Int) {
        while start < end, p[start] == 0x20 || p[start] == 0x09 { start += 1 }
        while end > start, p[end - 1] == 0x20 || p[end - 1] == 0x09 { end -= 1 }
    }

    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (either digit run may be empty, not both).
    ///
    /// Up to 19 significant digits with a power of ten up to 22 are computed exactly (Clinger's fast
    /// path); anything else goes through the correctly rounded `Double(String)`. Returns nil for other
    /// text and for values that overflow to infinity.
    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
        var i = 0
        var negative = false
        if i < count, p[i] == 0x2D || p[i] == 0x2B {
            negative = p[i] == 0x2D
            i += 1
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var sawDigit = false
        var truncated = false
        while i < count {
            let d = p[i] &- 0x30
            if d > 9 { break }
            sawDigit = true
            if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa != 0 { significant += 1 }
            } else {
                exponent += 1
                truncated = true
            }
            i += 1
        }
        if i < count, p[i] == 0x2E {
            i += 1
            while i < count {
                let d = p[i] &- 0x30
                if d > 9 { break }
                sawDigit = true
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    if mantissa != 0 { significant += 1 }
                    exponent -= 1
                } else if d != 0 {
                    truncated = true
                }
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < count, p[i] == 0x65 || p[i] == 0x45 {
            i += 1
            var expNegative = false
            if i < count, p[i] == 0x2D || p[i] == 0x2B {
                expNegative = p[i] == 0x2D
                i += 1
            }
            var value = 0
            var sawExpDigit = false
            while i < count {
                let d = p[i] &- 0x30
                if d > 9 { break }
                sawExpDigit = true
                if value < 100_000 { value = value * 10 + Int(d) }
                i += 1
            }
            guard sawExpDigit else { return nil }
            exponent += expNegative ? -value : value
        }
        guard i == count else { return nil }
        if !truncated, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            var v = Double(mantissa)
            v = exponent < 0 ? v / exactPowers[-exponent] : v * exactPowers[exponent]
            return negative ? -v : v
        }
        if mantissa == 0 && !truncated { return negative ? -0.0 : 0 }
        let text = String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
        guard let v = Double(text), v.isFinite else { return nil }
        return v
    }

    /// Parses a number from a string with the same grammar as CSV cells (surrounding blanks allowed).
    static func parse(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            var start = 0
            var end = buf.count
            trim(base, &start, &end)
            return parse(base + start, end - start)
        }
    }

    /// Whether a string is a missing-value marker (after trimming blanks).
    static func isMissing(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { buf -> Bool in
            guard let base = buf.baseAddress else { return true }
            var start = 0
            var end = buf.count
            trim(base, &start, &end)
            return isMissing(base + start, end - start)
        }
    }
}
