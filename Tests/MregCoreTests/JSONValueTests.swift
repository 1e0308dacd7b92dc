import Foundation
import Testing
@testable import MregCore

@Suite struct JSONValueTests {
    @Test func canonicalOutputSortsKeysAndFormatsNumbers() {
        let v: JSONValue = ["b": 1, "a": [0.95, 1e-5, -3, 2.5e20, .null, true], "c": "x\"\n\u{1}"]
        #expect(v.encodedString() == #"{"a":[0.95,1e-05,-3,2.5e+20,null,true],"b":1,"c":"x\"\n\u0001"}"#)
        #expect(JSONValue.number(.nan).encodedString() == "null")
        #expect(JSONValue.number(-0.0).encodedString() == "0")
    }

    @Test func prettyOutputIsStable() {
        let v: JSONValue = ["z": ["y": 1], "a": []]
        #expect(v.encodedString(pretty: true) == "{\n  \"a\": [],\n  \"z\": {\n    \"y\": 1\n  }\n}\n")
    }

    @Test func roundTrips() throws {
        let text = #"{"a":[1,2.5,-0.001,"é\u00e9\ud83d\ude00"],"b":{"c":null,"d":false}}"#
        let v = try JSONValue.parse(text)
        #expect(v["a"]?.arrayValue?[3].stringValue == "éé😀")
        let again = try JSONValue.parse(v.encoded())
        #expect(again == v)
        for d in [0.1, 1.0 / 3.0, 123456.789, 1e300, Double.leastNonzeroMagnitude] {
            #expect(try JSONValue.parse(JSONValue.number(d).encoded()) == .number(d))
        }
    }

    @Test(arguments: [
        "", " ", "{", "[1,", "{\"a\" 1}", "[01]", "[1.]", "[.5]", "[1e]", "tru", "\"abc", "\"\\x\"",
        "{\"a\":1,\"a\":2}", "[1] x", "\"\u{01}\"", "\"\\ud800\"", "nul", "[-]", "{1:2}",
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Data([0x22, 0xFF, 0x22])) }
    }
}
