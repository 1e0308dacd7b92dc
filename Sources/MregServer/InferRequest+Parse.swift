import Foundation
import MregCore
#if canImport(Glibc)
import Glibc
#endif

extension InferRequest {
    /// Parses an inference request body with a byte-level reader that goes straight to tensors,
    /// without building a generic JSON tree (the hot path of the server).
    ///
    /// `features` are the model's feature names: a tensor named after one gets that name's string
    /// (no new allocation) and its index.
    static func parse(_ bytes: UnsafeRawBufferPointer, features: FeatureNames = .none) throws(ServerError) -> InferRequest {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            throw .emptyBody
        }
        var reader = InferReader(p: base, end: bytes.count, features: features)
        return try reader.parseRequest()
    }

    /// Parses a body held in an array (tests, tools).
    static func parse(_ bytes: [UInt8], features: FeatureNames = .none) throws(ServerError) -> InferRequest {
        var result: Result<InferRequest, ServerError> = .failure(.emptyBody)
        bytes.withUnsafeBytes { raw in
            result = Result { () throws(ServerError) -> InferRequest in try parse(raw, features: features) }
        }
        return try result.get()
    }
}

/// Reads the JSON of an inference request byte by byte.
///
/// Anything it does not need (`parameters`, unknown fields) is still checked to be valid JSON, so a
/// malformed body is refused wherever the mistake is.
struct InferReader {
    let p: UnsafePointer<UInt8>
    let end: Int
    var pos = 0
    let features: FeatureNames
    static let maxDepth = 64

    init(p: UnsafePointer<UInt8>, end: Int, features: FeatureNames = .none) {
        self.p = p
        self.end = end
        self.features = features
    }

    func fail(_ message: String) -> ServerError { .invalidJSON("\(message) at byte \(pos)") }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let b = p[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    @inline(__always) mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(ServerError) {
        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data, expected \(what())") }
        guard p[pos] == byte else { throw fail("expected \(what())") }
        pos += 1
    }

    /// After a member or element: true for `,` (more follow), false for the closing byte.
    @inline(__always) mutating func next(close: UInt8) throws(ServerError) -> Bool {
        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data") }
        let b = p[pos]
        pos += 1
        if b == UInt8(ascii: ",") { return true }
        if b == close { return false }
        pos -= 1
        throw fail(close == UInt8(ascii: "}") ? "expected ',' or '}'" : "expected ',' or ']'")
    }

    /// Opens an object; false if it is empty (and consumed).
    mutating func openObject(_ what: @autoclosure () -> String) throws(ServerError) -> Bool {
        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data, expected \(what())") }
        guard p[pos] == UInt8(ascii: "{") else { throw ServerError.invalidRequest("\(what()) must be an object") }
        pos += 1
        skipWhitespace()
        if pos < end, p[pos] == UInt8(ascii: "}") {
            pos += 1
            return false
        }
        return true
    }

    /// Opens an array; false if it is empty (and consumed).
    mutating func openArray(_ what: @autoclosure () -> String) throws(ServerError) -> Bool {
        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data, expected \(what())") }
        guard p[pos] == UInt8(ascii: "[") else { throw ServerError.invalidRequest("\(what()) must be an array") }
        pos += 1
        skipWhitespace()
        if pos < end, p[pos] == UInt8(ascii: "]") {
            pos += 1
            return false
        }
        return true
    }

    /// Reads `"key":` and returns the key's bytes as a range of the body.
    mutating func key() throws(ServerError) -> Range<Int> {
        skipWhitespace()
        guard pos < end, p[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let start = pos + 1
        _ = try string()
        // Keys with escapes are compared as written; protocol keys never need them.
        let range = start..<(pos - 1)
        try expect(UInt8(ascii: ":"), "':'")
        return range
    }

    func keyIs(_ range: Range<Int>, _ name: StaticString) -> Bool {
        let n = name.utf8CodeUnitCount
        guard range.count == n else { return false }
        let s = name.utf8Start
        for i in 0..<n where p[range.lowerBound + i] != s[i] { return false }
        return true
    }

    // MARK: Request structure

    mutating func parseRequest() throws(ServerError) -> InferRequest {
        skipWhitespace()
        guard pos < end else { throw .emptyBody }
        guard p[pos] == UInt8(ascii: "{") else {
            if p[pos] == UInt8(ascii: "[") || p[pos] == UInt8(ascii: "\"") || p[pos] == UInt8(ascii: "-")
                || (p[pos] >= UInt8(ascii: "0") && p[pos] <= UInt8(ascii: "9")) || p[pos] == UInt8(ascii: "t")
                || p[pos] == UInt8(ascii: "f") || p[pos] == UInt8(ascii: "n") {
                try skipValue(depth: 0)
                skipWhitespace()
                if pos < end { throw fail("unexpected data after the document") }
                throw ServerError.invalidRequest("request body must be a JSON object")
            }
            throw fail("unexpected character")
        }
        var request = InferRequest()
        if try openObject("request body") {
            repeat {
                let k = try key()
                if keyIs(k, "inputs") {
                    request.inputs = try parseInputs()
                } else if keyIs(k, "id") {
                    skipWhitespace()
                    guard pos < end, p[pos] == UInt8(ascii: "\"") else {
                        try skipValue(depth: 1)
                        throw ServerError.invalidRequest("'id' must be a string")
                    }
                    request.id = try string()
                } else if keyIs(k, "outputs") {
                    request.outputs = try parseOutputs(&request.outputBinary)
                } else if keyIs(k, "parameters") {
                    request.binaryDataOutput = try boolParameter("binary_data_output", in: "parameters") ?? false
                } else {
                    try skipValue(depth: 1)
                }
            } while try next(close: UInt8(ascii: "}"))
        }
        skipWhitespace()
        if pos < end { throw fail("unexpected data after the document") }
        return request
    }

    mutating func parseInputs() throws(ServerError) -> [InferTensor] {
        var tensors = [InferTensor]()
        tensors.reserveCapacity(16)
        guard try openArray("'inputs'") else { return tensors }
        repeat {
            tensors.append(try parseTensor(index: tensors.count))
        } while try next(close: UInt8(ascii: "]"))
        return tensors
    }

    mutating func parseTensor(index: Int) throws(ServerError) -> InferTensor {
        var t = InferTensor()
        guard try openObject("'inputs[\(index)]'") else { return t }
        repeat {
            let k = try key()
            if keyIs(k, "name") {
                if let span = try plainString() {
                    if let f = features.find(p + span.lowerBound, count: span.count) {
                        t.name = features.names[f]
                        t.feature = f
                    } else {
                        t.name = String(decoding: UnsafeBufferPointer(start: p + span.lowerBound, count: span.count), as: UTF8.self)
                    }
                } else {
                    t.name = try stringField("'inputs[\(index)].name'")
                }
            } else if keyIs(k, "datatype") {
                if let span = try plainString() {
                    t.type = TensorType.parse(p + span.lowerBound, count: span.count)
                    if t.type == nil {
                        t.datatype = String(decoding: UnsafeBufferPointer(start: p + span.lowerBound, count: span.count), as: UTF8.self)
                    }
                } else {
                    t.datatype = try stringField("'inputs[\(index)].datatype'")
                    t.type = TensorType(rawValue: t.datatype!)
                }
            } else if keyIs(k, "shape") {
                t.shape = try parseShape(index: index)
            } else if keyIs(k, "data") {
                t.data = try parseData(name: t.name, index: index)
            } else if keyIs(k, "parameters") {
                t.binarySize = try binarySizeParameter(index: index)
            } else {
                try skipValue(depth: 3)
            }
        } while try next(close: UInt8(ascii: "}"))
        return t
    }

    mutating func stringField(_ what: @autoclosure () -> String) throws(ServerError) -> String {
        skipWhitespace()
        guard pos < end, p[pos] == UInt8(ascii: "\"") else {
            try skipValue(depth: 3)
            throw ServerError.invalidRequest("\(what()) must be a string")
        }
        return try string()
    }

    mutating func parseShape(index: Int) throws(ServerError) -> TensorShape {
        var shape = TensorShape()
        guard try openArray("'inputs[\(index)].shape'") else { return shape }
        repeat {
            skipWhitespace()
            guard pos < end else { throw fail("unexpected end of data") }
            let b = p[pos]
            guard b == UInt8(ascii: "-") || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) else {
                try skipValue(depth: 4)
                throw ServerError.invalidRequest("'inputs[\(index)].shape' must hold whole numbers")
            }
            guard shape.rank < 32 else { throw ServerError.invalidRequest("'inputs[\(index)].shape' has more than 32 dimensions") }
            shape.append(try number())
        } while try next(close: UInt8(ascii: "]"))
        return shape
    }

    /// Reads `outputs`; the `binary_data` parameter of each output that has one goes to `binary`.
    mutating func parseOutputs(_ binary: inout [String: Bool]) throws(ServerError) -> [String] {
        var names = [String]()
        guard try openArray("'outputs'") else { return names }
        repeat {
            var name: String?
            var flag: Bool?
            if try openObject("'outputs[\(names.count)]'") {
                repeat {
                    let k = try key()
                    if keyIs(k, "name") {
                        name = try stringField("'outputs[\(names.count)].name'")
                    } else if keyIs(k, "parameters") {
                        flag = try boolParameter("binary_data", in: "outputs[\(names.count)].parameters")
                    } else {
                        try skipValue(depth: 3)
                    }
                } while try next(close: UInt8(ascii: "}"))
            }
            guard let name else { throw ServerError.invalidRequest("'outputs[\(names.count)]' has no 'name'") }
            if let flag { binary[name] = flag }
            names.append(name)
        } while try next(close: UInt8(ascii: "]"))
        return names
    }

    /// Reads a `parameters` object and returns its boolean member `name` (nil if absent); the
    /// other members are checked as JSON and skipped.
    mutating func boolParameter(_ name: StaticString, in what: @autoclosure () -> String) throws(ServerError) -> Bool? {
        var found: Bool?
        guard try openObject("'\(what())'") else { return nil }
        repeat {
            let k = try key()
            guard keyIs(k, name) else {
                try skipValue(depth: 4)
                continue
            }
            skipWhitespace()
            if pos < end, p[pos] == UInt8(ascii: "t") {
                try literal("true")
                found = true
            } else if pos < end, p[pos] == UInt8(ascii: "f") {
                try literal("false")
                found = false
            } else {
                try skipValue(depth: 4)
                throw ServerError.invalidRequest("'\(what()).\(name)' must be true or false")
            }
        } while try next(close: UInt8(ascii: "}"))
        return found
    }

    /// Reads a tensor's `parameters` and returns `binary_data_size` (nil if absent): a whole,
    /// non-negative number of bytes, checked as a Double before any conversion.
    mutating func binarySizeParameter(index: Int) throws(ServerError) -> Int? {
        var size: Int?
        let what = "'inputs[\(index)].parameters.binary_data_size'"
        guard try openObject("'inputs[\(index)].parameters'") else { return nil }
        repeat {
            let k = try key()
            guard keyIs(k, "binary_data_size") else {
                try skipValue(depth: 4)
                continue
            }
            skipWhitespace()
            guard pos < end, p[pos] == UInt8(ascii: "-") || (p[pos] >= UInt8(ascii: "0") && p[pos] <= UInt8(ascii: "9")) else {
                try skipValue(depth: 4)
                throw ServerError.invalidRequest("\(what) must be a number of bytes")
            }
            let d = try number()
            guard d >= 0, d == d.rounded(), d < 0x1p53 else {
                throw ServerError.invalidRequest("\(what) must be a whole number of bytes from 0, not \(d)")
            }
            size = Int(d)
        } while try next(close: UInt8(ascii: "}"))
        return size
    }

    /// Reads `data`: a flat or nested array of numbers, strings, booleans or nulls, flattened row-major.
    mutating func parseData(name: String?, index: Int) throws(ServerError) -> TensorData {
        var numbers = [Double]()
        var strings = [String?]()
        var bools = [Bool]()
        var nulls = 0
        var kind: UInt8 = 0  // 0 none yet, 1 numbers, 2 strings, 3 bools
        // Built only when a message needs it: clipping a name costs more than parsing a row.
        var label: String { name.map { "tensor '\(ServerError.clip($0))'" } ?? "'inputs[\(index)].data'" }

        func mixed(_ found: String) -> ServerError {
            let had = kind == 1 ? "numbers" : kind == 2 ? "strings" : "booleans"
            return .invalidRequest("\(label) mixes \(had) and \(found) in 'data'")
        }

        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data") }
        guard p[pos] == UInt8(ascii: "[") else {
            try skipValue(depth: 3)
            throw ServerError.invalidRequest("\(label): 'data' must be an array")
        }
        // Nested arrays are walked with an explicit depth counter instead of recursion.
        var depth = 0
        var expectValue = true
        while true {
            skipWhitespace()
            guard pos < end else { throw fail("unexpected end of data") }
            let b = p[pos]
            if expectValue {
                if b == UInt8(ascii: "[") {
                    depth += 1
                    if depth > InferReader.maxDepth { throw fail("nesting deeper than \(InferReader.maxDepth)") }
                    pos += 1
                    skipWhitespace()
                    if pos < end, p[pos] == UInt8(ascii: "]") {
                        pos += 1
                        depth -= 1
                        if depth == 0 { break }
                        expectValue = false
                    }
                    continue
                }
                switch b {
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if kind == 0 {
                        kind = 1
                        numbers.reserveCapacity(8)
                        if nulls > 0 { numbers.append(contentsOf: repeatElement(Double.nan, count: nulls)) }
                    } else if kind != 1 { throw mixed("numbers") }
                    numbers.append(try number())
                case UInt8(ascii: "\""):
                    if kind == 0 {
                        kind = 2
                        strings.reserveCapacity(8)
                        if nulls > 0 { strings.append(contentsOf: repeatElement(nil, count: nulls)) }
                    } else if kind != 2 { throw mixed("strings") }
                    strings.append(try string())
                case UInt8(ascii: "t"), UInt8(ascii: "f"):
                    if kind == 0 {
                        if nulls > 0 { throw ServerError.invalidRequest("\(label) mixes nulls and booleans in 'data'") }
                        kind = 3
                    } else if kind != 3 { throw mixed("booleans") }
                    if b == UInt8(ascii: "t") {
                        try literal("true")
                        bools.append(true)
                    } else {
                        try literal("false")
                        bools.append(false)
                    }
                case UInt8(ascii: "n"):
                    try literal("null")
                    switch kind {
                    case 0: nulls += 1
                    case 1: numbers.append(.nan); nulls += 1
                    case 2: strings.append(nil)
                    default: throw ServerError.invalidRequest("\(label) mixes booleans and nulls in 'data'")
                    }
                case UInt8(ascii: "{"):
                    throw ServerError.invalidRequest("\(label): 'data' must hold numbers, strings or booleans, not objects")
                case UInt8(ascii: "N"), UInt8(ascii: "I"):
                    throw fail("NaN and Infinity are not JSON (send null for a missing value)")
                default:
                    throw fail("unexpected character")
                }
                expectValue = false
            } else {
                pos += 1
                if b == UInt8(ascii: ",") {
                    expectValue = true
                } else if b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { break }
                } else {
                    pos -= 1
                    throw fail("expected ',' or ']'")
                }
            }
        }
        switch kind {
        case 1: return .numbers(numbers, nulls: nulls)
        case 2: return .strings(strings)
        case 3: return .bools(bools)
        default: return .nulls(nulls)
        }
    }

    // MARK: Scalars

    mutating func literal(_ word: StaticString) throws(ServerError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= end else { throw fail("unexpected end of data") }
        let s = word.utf8Start
        for i in 0..<n where p[pos + i] != s[i] { throw fail("invalid literal") }
        pos += n
    }

    /// Exact powers of ten for the fast path of number conversion.
    static let powers: [Double] = (0...22).map { pow(10, Double($0)) }

    /// Reads a number (RFC 8259 grammar) and converts it with correct rounding: a short mantissa with a
    /// small exponent is exact in one multiplication or division (Clinger's fast path), anything else
    /// goes to `strtod`.
    mutating func number() throws(ServerError) -> Double {
        let start = pos
        var negative = false
        if p[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        guard pos < end else { throw fail("invalid number") }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        if p[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if p[pos] >= UInt8(ascii: "1") && p[pos] <= UInt8(ascii: "9") {
            while pos < end, p[pos] >= UInt8(ascii: "0"), p[pos] <= UInt8(ascii: "9") {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(p[pos] &- UInt8(ascii: "0"))
                    digits += 1
                } else {
                    exponent += 1
                    digits += 1
                }
                pos += 1
            }
        } else {
            throw fail("invalid number")
        }
        if pos < end, p[pos] == UInt8(ascii: ".") {
            pos += 1
            let first = pos
            while pos < end, p[pos] >= UInt8(ascii: "0"), p[pos] <= UInt8(ascii: "9") {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(p[pos] &- UInt8(ascii: "0"))
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                } else {
                    digits += 1
                }
                pos += 1
            }
            if pos == first { throw fail("invalid number") }
        }
        if pos < end, p[pos] == UInt8(ascii: "e") || p[pos] == UInt8(ascii: "E") {
            pos += 1
            var expNegative = false
            if pos < end, p[pos] == UInt8(ascii: "+") || p[pos] == UInt8(ascii: "-") {
                expNegative = p[pos] == UInt8(ascii: "-")
                pos += 1
            }
            let first = pos
            var e = 0
            while pos < end, p[pos] >= UInt8(ascii: "0"), p[pos] <= UInt8(ascii: "9") {
                if e < 100_000 { e = e * 10 + Int(p[pos] - UInt8(ascii: "0")) }
                pos += 1
            }
            if pos == first { throw fail("invalid number") }
            exponent += expNegative ? -e : e
        }
        // digits counts significant digits kept; beyond 15 the mantissa may not be exact in a Double.
        if digits <= 15, mantissa <= 9_007_199_254_740_992 {
            if mantissa == 0 { return negative ? -0.0 : 0.0 }
            if exponent >= 0 && exponent <= 22 {
                let v = Double(mantissa) * InferReader.powers[exponent]
                if exponent == 0 || v < 9_007_199_254_740_992 * 1e22 { return negative ? -v : v }
            } else if exponent < 0 && exponent >= -22 {
                let v = Double(mantissa) / InferReader.powers[-exponent]
                return negative ? -v : v
            }
        }
        return slowNumber(start: start)
    }

    func slowNumber(start: Int) -> Double {
        // strtod needs a terminated string; numbers are short, so copy to the stack.
        let length = pos - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buf in
            for i in 0..<length { buf[i] = CChar(bitPattern: p[start + i]) }
            buf[length] = 0
            return strtod(buf.baseAddress!, nil)
        }
    }

    /// At a string of plain ASCII without escapes: consumes it and returns the range of its content.
    /// Anything else (not a string, escapes, non-ASCII) returns nil with nothing consumed.
    @inline(__always) mutating func plainString() throws(ServerError) -> Range<Int>? {
        skipWhitespace()
        guard pos < end, p[pos] == UInt8(ascii: "\"") else { return nil }
        var i = pos + 1
        while i < end {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                let range = (pos + 1)..<i
                pos = i + 1
                return range
            }
            if b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return nil }
            i += 1
        }
        return nil
    }

    /// Reads a string at its opening quote, decoding escapes; invalid UTF-8 is refused.
    mutating func string() throws(ServerError) -> String {
        pos += 1
        let start = pos
        // ASCII needs no validation, and most protocol strings are ASCII.
        var ascii = true
        while pos < end {
            let b = p[pos]
            if b == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: p + start, count: pos - start)
                pos += 1
                if ascii { return String(decoding: bytes, as: UTF8.self) }
                guard let s = String(validating: bytes, as: UTF8.self) else {
                    throw ServerError.invalidJSON("invalid UTF-8 in string at byte \(start)")
                }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("control character in string") }
            if b >= 0x80 { ascii = false }
            pos += 1
        }
        var out = [UInt8](UnsafeBufferPointer(start: p + start, count: pos - start))
        do {
            try JSONParser.decodeEscapedTail(p, pos: &pos, end: end, into: &out)
        } catch {
            throw ServerError.invalidJSON("\(error.message) at byte \(error.offset)")
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw ServerError.invalidJSON("invalid UTF-8 in string at byte \(start)")
        }
        return s
    }

    /// Checks and skips any JSON value.
    mutating func skipValue(depth: Int) throws(ServerError) {
        guard depth <= InferReader.maxDepth else { throw fail("nesting deeper than \(InferReader.maxDepth)") }
        skipWhitespace()
        guard pos < end else { throw fail("unexpected end of data") }
        switch p[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            skipWhitespace()
            if pos < end, p[pos] == UInt8(ascii: "}") {
                pos += 1
                return
            }
            repeat {
                _ = try key()
                try skipValue(depth: depth + 1)
            } while try next(close: UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            pos += 1
            skipWhitespace()
            if pos < end, p[pos] == UInt8(ascii: "]") {
                pos += 1
                return
            }
            repeat {
                try skipValue(depth: depth + 1)
            } while try next(close: UInt8(ascii: "]"))
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try number()
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw fail("NaN and Infinity are not JSON (send null for a missing value)")
        default: throw fail("unexpected character")
        }
    }
}

/// A model's feature names, for matching tensor names while parsing.
struct FeatureNames: Sendable {
    let names: [String]
    let bytes: [[UInt8]]

    init(_ names: [String]) {
        self.names = names
        bytes = names.map { Array($0.utf8) }
    }

    static let none = FeatureNames([])

    /// The index of the name spelled by `count` bytes at `p`.
    @inline(__always) func find(_ p: UnsafePointer<UInt8>, count: Int) -> Int? {
        for (f, name) in bytes.enumerated() where name.count == count {
            let same = name.withUnsafeBufferPointer { memcmp($0.baseAddress!, p, count) == 0 }
            if same { return f }
        }
        return nil
    }
}
