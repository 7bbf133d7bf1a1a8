import Foundation
import Testing
@testable import FastJSON

@Suite struct JSONParserTests {
    @Test func scalarsAndNesting() throws {
        let value = try JSONValue.parse(#" { "a": [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {"c": {}} , "d": [] } "#)
        #expect(value["a"] == .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null, .string("x")]))
        #expect(value["b"]?["c"] == .object([]))
        #expect(value["d"] == .array([]))
        #expect(value["missing"] == nil)
        #expect(value["a"]?.array?[3].int == 1000)
        #expect(value["a"]?.array?[2].int == nil)
    }

    @Test func escapesAndUnicode() throws {
        let value = try JSONValue.parse(#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "ü€😀"]"#)
        #expect(value.array?.map(\.string) == ["a\"b\\c/d\u{8}\u{c}\n\r\t", "é€", "😀", "ü€😀"])
    }

    @Test func integersAtTheEdges() throws {
        #expect(try JSONValue.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONValue.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONValue.parse("9223372036854775808").int64 == nil)
        #expect(try JSONValue.parse("123456789012345678") == .int(123_456_789_012_345_678))
        #expect(try JSONValue.parse("-0") == .int(0))
        #expect(try JSONValue.parse("2.0").int == 2)
    }

    @Test func repeatedKeyLastWins() throws {
        #expect(try JSONValue.parse(#"{"k": 1, "k": 2}"#)["k"] == .int(2))
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "\"abc", "\"a\u{1}b\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "1 2", "[] x", "NaN", "1e400",
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
    }

    @Test func depthIsBounded() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(try JSONValue.parse(fine).array != nil)
    }

    /// Whatever Foundation's `JSONSerialization` reads, this reads the same (random documents).
    @Test func agreesWithFoundationOnRandomDocuments() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let object = Self.randomValue(depth: 0, using: &generator)
            let data = try JSONSerialization.data(withJSONObject: ["v": object], options: [.fragmentsAllowed])
            let parsed = try JSONValue.parse(Array(data))
            #expect(Self.same(parsed["v"]!, object), "\(String(decoding: data, as: UTF8.self))")
        }
    }

    private static func randomValue(depth: Int, using g: inout SystemRandomNumberGenerator) -> Any {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &g) {
        case 0: return Int.random(in: -1_000_000_000...1_000_000_000, using: &g)
        case 1: return Bool.random(using: &g)
        case 2:
            let alphabet = Array("aZ09 \"\\/\n\t\u{1}é€😀")
            return String((0..<Int.random(in: 0...12, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
        case 3: return NSNull()
        case 4: return (0..<Int.random(in: 0...4, using: &g)).map { _ in randomValue(depth: depth + 1, using: &g) }
        default:
            var object: [String: Any] = [:]
            for i in 0..<Int.random(in: 0...4, using: &g) { object["k\(i)"] = randomValue(depth: depth + 1, using: &g) }
            return object
        }
    }

    private static func same(_ value: JSONValue, _ any: Any) -> Bool {
        switch (value, any) {
        case (.null, is NSNull): return true
        case (.bool(let b), let x as Bool): return b == x
        case (.int(let i), let x as Int): return i == Int64(x)
        case (.string(let s), let x as String): return s == x
        case (.array(let a), let x as [Any]): return a.count == x.count && zip(a, x).allSatisfy { same($0, $1) }
        case (.object(let members), let x as [String: Any]):
            return members.count == x.count && members.allSatisfy { m in x[m.key].map { same(m.value, $0) } ?? false }
        default: return false
        }
    }
}
