import Foundation

/// Appends JSON tokens to a byte array; used on the hot path instead of Foundation's encoders.
enum JSONWriter {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A JSON string literal, quotes included.
    static func string(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(0x5C); out.append(b)
            case UInt8(ascii: "\\"): out.append(0x5C); out.append(b)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The bytes of `string(s)`, for fragments computed once.
    static func quoted(_ s: String) -> [UInt8] {
        var out = [UInt8]()
        string(s, to: &out)
        return out
    }

    /// A number in shortest round-trip form (`0.1`, `1e-05`, `3.0`), so the reader gets the same bits back;
    /// NaN and infinities, which JSON cannot hold, are written as `null`.
    static func double(_ d: Double, to out: inout [UInt8]) {
        guard d.isFinite else {
            out.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
            return
        }
        if d == d.rounded(), abs(d) < 1e15 {
            // Integral values: digits plus ".0" without going through the float printer.
            int(Int64(d), to: &out)
            if d == 0, d.sign == .minus { out.insert(UInt8(ascii: "-"), at: out.count - 1) }
            out.append(UInt8(ascii: "."))
            out.append(UInt8(ascii: "0"))
            return
        }
        var text = d.description
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// A decimal integer.
    static func int(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var v = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let start = out.count
        while v > 0 {
            out.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        }
        out[start...].reverse()
    }

    static func int(_ value: Int, to out: inout [UInt8]) { int(Int64(value), to: &out) }
}
