import Foundation
import Testing
@testable import MregCore

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func matchesSha256sumAcrossBlockBoundaries() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for size in [1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003] {
            let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            let url = dir.appendingPathComponent("f\(size)")
            try bytes.write(to: url)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            p.arguments = [url.path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            p.waitUntilExit()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let expected = String(out.prefix(64))
            #expect(SHA256.hex(bytes) == expected, "size \(size)")
            #expect(try SHA256.hex(fileAt: url) == expected, "file size \(size)")
            // Fed in uneven pieces.
            var h = SHA256()
            var i = 0
            while i < bytes.count {
                let n = min(13 + i % 70, bytes.count - i)
                h.update(bytes[i..<i + n])
                i += n
            }
            #expect(SHA256.hexString(h.finalize()) == expected)
        }
    }
}

@Suite struct Checksum64Tests {
    @Test func everySingleBitFlipChangesTheChecksum() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 63, 64, 65, 200] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let base = Checksum64.of(bytes)
            for i in 0..<length {
                for bit in 0..<8 {
                    var flipped = bytes
                    flipped[i] ^= 1 << bit
                    #expect(Checksum64.of(flipped) != base, "length \(length), byte \(i), bit \(bit)")
                }
            }
            // Truncation and extension change it too.
            if length > 0 { #expect(Checksum64.of(bytes.dropLast()) != base) }
            #expect(Checksum64.of(bytes + [0]) != base)
        }
        #expect(Checksum64.hex([UInt8]()).count == 16)
        #expect(Checksum64.of(Array("abc".utf8)) == Checksum64.of(ArraySlice("abc".utf8)))
    }
}
