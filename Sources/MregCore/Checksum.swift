/// A fast 64-bit checksum for mreg's derived caches, which must notice damage (a flipped bit, a
/// torn write), not resist an attacker: Git objects, not caches, are the proof of content.
///
/// Each 8-byte word is mixed in by a bijective step, so changing any one word (any single bit
/// flip, for one) always changes the result. About 20x faster here than the SHA-256 it replaced,
/// whose cost showed in `mreg status` on a 10,000-commit registry (docs/benchmarks.md).
public enum Checksum64 {
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let n = bytes.count
        var i = 0
        while i + 8 <= n {
            h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x0000_0100_0000_01b3
            h ^= h >> 29
            i += 8
        }
        while i < n {
            h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01b3
            i += 1
        }
        h ^= UInt64(n)
        h = (h ^ (h >> 33)) &* 0xff51_afd7_ed55_8ccd
        return h ^ (h >> 33)
    }

    public static func of<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        if let fast = bytes.withContiguousStorageIfAvailable({ of(UnsafeRawBufferPointer($0)) }) { return fast }
        return Array(bytes).withUnsafeBytes { of($0) }
    }

    /// The checksum as 16 lowercase hex digits.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let s = String(of(bytes), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
