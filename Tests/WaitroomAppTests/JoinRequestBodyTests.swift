import Edge
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import WaitroomApp

@Suite struct JoinRequestBodyTests {
    private func scan(_ text: String) -> JoinRequestScanner.Outcome {
        JoinRequestScanner.scan(Array(text.utf8))
    }

    /// What `JSONDecoder` makes of the body: the `userId`, or `nil` when it refuses the body.
    private func decoded(_ bytes: [UInt8]) -> String?? {
        try? JSONDecoder().decode(JoinRequestBody.self, from: Data(bytes)).userId
    }

    private func outcome(_ text: String) -> Result<String?, HTTPError> {
        Result { () throws(HTTPError) in try JoinRequestBody.userId(from: ByteBuffer(string: text)) }
    }

    @Test func usualBodiesAreScanned() {
        #expect(scan(#"{"userId":"u-123"}"#) == .userId("u-123"))
        #expect(scan(#" { "userId" : "u-123" } "#) == .userId("u-123"))
        #expect(scan("{\n\t\"userId\": \"u-1\"\r\n}\n") == .userId("u-1"))
        #expect(scan("{}") == .userId(nil))
        #expect(scan(#"{"userId":null}"#) == .userId(nil))
        #expect(scan(#"{"other":1,"userId":"x","more":[1]}"#) == .unsupported)
        #expect(scan(#"{"a":-1.5e+3,"b":true,"c":false,"d":null,"e":"s","userId":"x"}"#) == .userId("x"))
        #expect(scan(#"{"userId":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#) == .userId("a\"b\\c/d\né😀"))
        #expect(scan(#"{"user\u0049d":"k"}"#) == .userId("k"))
        #expect(scan(#"{"userId":"ünï"}"#) == .userId("ünï"))
    }

    @Test func anythingUnusualGoesToTheDecoder() {
        for text in [
            "", "null", "[]", "\"u\"", "{", "}", "{\"userId\"}", "{\"userId\":}", "{\"userId\":\"x\",}",
            "{\"userId\":\"x\"} x", "{\"userId\":\"x\"}{}", "{\"userId\":1}", "{\"userId\":true}",
            "{\"userId\":{\"a\":1}}", "{\"userId\":\"a\",\"userId\":\"b\"}", "{\"userId\":\"a\\x\"}",
            "{\"userId\":\"\\ud800\"}", "{\"userId\":\"\\udc00\"}", "{\"userId\":\"\\u12\"}", "{\"userId\":\"tab\there\"}",
            "{\"n\":01}", "{\"n\":1.}", "{\"n\":-}", "{\"n\":1e}", "{\"n\":tru}", "{'userId':'x'}", "{\"userId\":\"x\"",
        ] {
            #expect(scan(text) == .unsupported, "\(text)")
        }
        #expect(JoinRequestScanner.scan([0x7B, 0x22, 0x75, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) == .unsupported)  // {"u":"\xFF"}
    }

    /// The scanner never disagrees with the decoder: whatever it reads, the decoder reads the same.
    @Test func scannerAgreesWithTheDecoder() {
        var random = SystemRandomNumberGenerator()
        let keys = [#""userId""#, #""k""#, #""user\u0049d""#, #""a b""#]
        let values = [#""x""#, "null", "1", "-2.5e3", "0.5", "true", "false", #""a\"b""#, #""\u00e9""#,
                      #""\ud83d\ude00""#, "[1]", "{}", #""""#]
        let spaces = ["", " ", "\n", "\t ", "\r\n"]
        var checked = 0
        for _ in 0..<20_000 {
            func space() -> String { spaces.randomElement(using: &random)! }
            let members = (0..<Int.random(in: 0...4, using: &random)).map { _ in
                space() + keys.randomElement(using: &random)! + space() + ":" + space() + values.randomElement(using: &random)! + space()
            }
            var bytes = Array((space() + "{" + members.joined(separator: ",") + "}" + space()).utf8)
            if Bool.random(using: &random) {
                // A damaged body: a byte dropped, doubled or replaced.
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0...2, using: &random) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(bytes[at], at: at)
                default: bytes[at] = Array(#"{}[]",:"\ x0"#.utf8).randomElement(using: &random)!
                }
            }
            if case .userId(let scanned) = JoinRequestScanner.scan(bytes) {
                checked += 1
                #expect(decoded(bytes) == .some(scanned), "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(checked > 1000)
    }

    @Test func answersKeepTheirStatusAndCode() throws {
        #expect(try outcome("").get() == nil)
        #expect(try outcome(#"{"userId":"u-1"}"#).get() == "u-1")
        #expect(try outcome(#"{"other":[1,2],"userId":"u-2"}"#).get() == "u-2")  // through the decoder
        for (text, status, code) in [
            ("not json", HTTPResponseStatus.badRequest, "invalid_json"),
            (#"{"userId":5}"#, .badRequest, "invalid_json"),
            (#"["u"]"#, .badRequest, "invalid_json"),
            (#"{"userId":""}"#, .unprocessableEntity, "invalid_user_id"),
            ("{\"userId\":\"\(String(repeating: "é", count: 65))\"}", .unprocessableEntity, "invalid_user_id"),
        ] {
            guard case .failure(let error) = outcome(text) else {
                Issue.record("\(text) must be refused")
                continue
            }
            #expect(error.status == status && error.code.rawValue == code, "\(text)")
        }
        #expect(try outcome("{\"userId\":\"\(String(repeating: "a", count: 128))\"}").get()?.utf8.count == 128)
    }

    @Test func statusBodyIsTheObjectJSONEncoderWrites() throws {
        typealias Body = QueueRoutes.StatusBody
        let bodies = [
            Body(ticket: "AQB-_x", state: "waiting", position: 12, etaSeconds: nil),
            Body(ticket: nil, state: "admitted", position: nil, etaSeconds: nil,
                 admission: .init(token: "tok\"en", expiresAt: "2030-01-01T00:00:00Z")),
            Body(ticket: "t", state: "left", position: 1, etaSeconds: 3),
        ]
        // The same object (JSONEncoder's member order is not fixed).
        for body in bodies {
            let handWritten = try JSONSerialization.jsonObject(with: Data(body.json.utf8)) as? NSDictionary
            let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(body)) as? NSDictionary
            #expect(handWritten != nil && handWritten == encoded, "\(body.json)")
        }
        #expect(bodies[0].json == #"{"ticket":"AQB-_x","state":"waiting","position":12,"etaSeconds":null}"#)
    }
}
