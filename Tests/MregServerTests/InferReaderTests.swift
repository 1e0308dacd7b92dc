import Foundation
import Testing
@testable import MregServer

/// The byte-level request reader on its own: numbers must come out with the same bits as Swift's
/// correctly rounded `Double(String)`, whatever path (fast or `strtod`) converts them.
@Suite struct InferReaderTests {
    static func parseNumbers(_ texts: [String]) throws -> [Double] {
        let body = #"{"inputs":[{"name":"x","datatype":"FP64","shape":[\#(texts.count)],"data":[\#(texts.joined(separator: ","))]}]}"#
        let request = try InferRequest.parse(Array(body.utf8))
        guard case .numbers(let values, _)? = request.inputs?.first?.data else { return [] }
        return values
    }

    @Test func numbersRoundCorrectly() throws {
        var rng = SystemRandomNumberGenerator()
        var texts = [String]()
        for _ in 0..<4000 {
            let d = Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)  // finite, positive
            texts.append(d.description)
            texts.append(String(format: "%.17g", d))
            let small = Double.random(in: -1e6...1e6, using: &rng)
            texts.append(small.description)
            texts.append(String(format: "%.3f", small))
            texts.append(String(format: "%.15e", small))
            // Many significant digits and exponents near the fast path's edges.
            let digits = (0..<(1 + Int(rng.next() % 25))).map { _ in String(rng.next() % 10) }.joined()
            let exponent = Int(rng.next() % 60) - 30
            texts.append("\(rng.next() % 2 == 0 ? "-" : "")\(digits.first == "0" ? "1" + digits : digits)e\(exponent)")
            texts.append("0.\(digits)")
        }
        texts += ["0", "-0", "0.0", "1e22", "1e23", "9007199254740993", "123456789012345678901234567890", "4.9e-324",
                  "2.2250738585072011e-308", "1.7976931348623157e308", "0.1", "0.2", "0.30000000000000004", "100e-2"]
        let parsed = try Self.parseNumbers(texts)
        #expect(parsed.count == texts.count)
        for (text, value) in zip(texts, parsed) {
            let expected = Double(text)!
            #expect(value.bitPattern == expected.bitPattern, "\(text): \(value) != \(expected)")
        }
    }

    @Test func refusesWhatJSONRefuses() {
        for bad in ["01", "1.", ".5", "+1", "1e", "1e+", "--1", "0x10", "1_000", "NaN", "Infinity", "-Infinity", "1,", "[1]2"] {
            let body = #"{"inputs":[{"name":"x","datatype":"FP64","shape":[1],"data":[\#(bad)]}]}"#
            #expect(throws: ServerError.self, "\(bad)") { _ = try InferRequest.parse(Array(body.utf8)) }
        }
    }

    @Test func stringsAndNesting() throws {
        let body = #"{"id":"caf\u00e9 \"q\" \ud83d\ude00","inputs":[{"name":"s","datatype":"BYTES","shape":[2,2],"data":[["a\n",null],["Zürich","\\"]]}]}"#
        let request = try InferRequest.parse(Array(body.utf8))
        #expect(request.id == "café \"q\" 😀")
        guard case .strings(let values)? = request.inputs?.first?.data else {
            Issue.record("not strings")
            return
        }
        #expect(values == ["a\n", nil, "Zürich", "\\"])
        #expect(throws: ServerError.self) { _ = try InferRequest.parse(Array(#"{"id":"\ud800"}"#.utf8)) }
        #expect(throws: ServerError.self) { _ = try InferRequest.parse([0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) }
    }
}
