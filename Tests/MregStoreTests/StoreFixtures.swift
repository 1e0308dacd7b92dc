import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import MregCore
import MregTestSupport

@testable import MregStore

/// A file of `size` deterministic bytes and its sha256.
func makeFile(_ path: String, size: Int, seed: UInt8 = 7) -> String {
    var bytes = [UInt8](repeating: 0, count: size)
    var x = UInt32(seed) &+ 1
    for i in 0..<size {
        x = x &* 1_664_525 &+ 1_013_904_223
        bytes[i] = UInt8(truncatingIfNeeded: x >> 24)
    }
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return sha256Hex(of: path)
}

func sha256Hex(of path: String) -> String {
    SHA256.hex(FileManager.default.contents(atPath: path) ?? Data())
}

let motoCredentials = ["AWS_ACCESS_KEY_ID": "AKIDTESTMOTO", "AWS_SECRET_ACCESS_KEY": "very-secret-test-key", "HOME": "/nonexistent"]
