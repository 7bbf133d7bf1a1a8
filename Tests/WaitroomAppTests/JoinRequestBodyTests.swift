import Edge
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import WaitroomApp

@Suite struct JoinRequestBodyTests {
    /// What `JSONDecoder` makes of the body: the `userId`, or `nil` when it refuses the body.
    private func decoded(_ bytes: [UInt8]) -> String?? {
        // Not `try?`: it would flatten a refusal and an absent userId into one nil.
        do {
            return .some(try JSONDecoder().decode(JoinRequestBody.self, from: Data(bytes)).userId)
        } catch {
            return .none
        }
    }

    private func outcome(_ text: String) -> Result<String?, HTTPError> {
        Result { () throws(HTTPError) in try JoinRequestBody.userId(from: ByteBuffer(string: text)) }
    }

    @Test func usualBodies() throws {
        #expect(try outcome(#"{"userId":"u-123"}"#).get() == "u-123")
        #expect(try outcome(#" { "userId" : "u-123" } "#).get() == "u-123")
        #expect(try outcome("{\n\t\"userId\": \"u-1\"\r\n}\n").get() == "u-1")
        #expect(try outcome("{}").get() == nil)
        #expect(try outcome(#"{"userId":null}"#).get() == nil)
        #expect(try outcome(#"{"other":1,"userId":"x","more":[1]}"#).get() == "x")
        #expect(try outcome(#"{"userId":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#).get() == "a\"b\\c/d\né😀")
        #expect(try outcome(#"{"user\u0049d":"k"}"#).get() == "k")
        #expect(try outcome(#"{"userId":"a","userId":"b"}"#).get() == "b")
    }

    @Test func unusualBodiesAreRefused() {
        for text in [
            "null", "[]", "\"u\"", "{", "}", "{\"userId\"}", "{\"userId\":}", "{\"userId\":\"x\",}",
            "{\"userId\":\"x\"} x", "{\"userId\":\"x\"}{}", "{\"userId\":1}", "{\"userId\":true}",
            "{\"userId\":{\"a\":1}}", "{\"userId\":\"a\\x\"}",
            "{\"userId\":\"\\ud800\"}", "{\"userId\":\"\\udc00\"}", "{\"userId\":\"\\u12\"}", "{\"userId\":\"tab\there\"}",
            "{\"n\":01}", "{\"n\":1.}", "{\"n\":-}", "{\"n\":1e}", "{\"n\":tru}", "{'userId':'x'}", "{\"userId\":\"x\"",
        ] {
            guard case .failure(let error) = outcome(text) else {
                Issue.record("\(text) must be refused")
                continue
            }
            #expect(error.status == .badRequest && error.code.rawValue == "invalid_json", "\(text)")
        }
        let invalidUTF8 = Result { () throws(HTTPError) in
            try JoinRequestBody.userId(from: ByteBuffer(bytes: [0x7B, 0x22, 0x75, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]))  // {"u":"\xFF"}
        }
        #expect(throws: HTTPError.self) { try invalidUTF8.get() }
    }

    /// Whatever `JSONDecoder` reads, this reads the same; whatever it refuses, this refuses.
    @Test func agreesWithTheDecoder() {
        var random = SystemRandomNumberGenerator()
        let keys = [#""userId""#, #""k""#, #""user\u0049d""#, #""a b""#]
        let values = [#""x""#, "null", "1", "-2.5e3", "0.5", "true", "false", #""a\"b""#, #""\u00e9""#,
                      #""\ud83d\ude00""#, "[1]", "{}", #""""#]
        let spaces = ["", " ", "\n", "\t ", "\r\n"]
        var accepted = 0
        var refused = 0
        var lenient = 0
        for _ in 0..<20_000 {
            func space() -> String { spaces.randomElement(using: &random)! }
            let chosen = (0..<Int.random(in: 0...4, using: &random)).map { _ in keys.randomElement(using: &random)! }
            // A repeated userId is left out: which one the decoder takes is not specified.
            guard chosen.filter({ $0 != #""k""# && $0 != #""a b""# }).count <= 1 else { continue }
            let members = chosen.map { key in
                space() + key + space() + ":" + space() + values.randomElement(using: &random)! + space()
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
            guard !bytes.isEmpty else { continue }
            let ours = Result { () throws(HTTPError) in try JoinRequestBody.userId(from: ByteBuffer(bytes: bytes)) }
            let text = String(decoding: bytes, as: UTF8.self)
            switch (ours, decoded(bytes)) {
            case (.success(let userId), .some(let expected)):
                accepted += 1
                #expect(userId == expected, "\(text)")
            case (.failure(let error), .none):
                refused += 1
                #expect(error.status == .badRequest, "\(text)")
            case (.failure(let error), .some(let expected)) where error.status == .unprocessableEntity:
                // The length rule refuses what the decoder reads: an empty userId.
                #expect(expected == "", "\(text)")
            case (.failure, .some):
                // The decoder does not check the members it skips (`{"k":"\x","userId":"u"}`) and
                // takes a trailing comma: this refuses what is not JSON (RFC 8259). Not JSON: what
                // `JSONSerialization` refuses, or a comma before the `}` (which it lets through too).
                lenient += 1
                let trailingComma = String(decoding: bytes.filter { ![0x20, 0x09, 0x0D, 0x0A].contains($0) }, as: UTF8.self).contains(",}")
                #expect(trailingComma || (try? JSONSerialization.jsonObject(with: Data(bytes))) == nil, "\(text)")
            case (.success(let userId), .none):
                Issue.record("accepted \(String(describing: userId)) where the decoder refuses: \(text)")
            }
        }
        #expect(accepted > 1000 && refused > 1000 && lenient < 1000)
    }

    @Test func answersKeepTheirStatusAndCode() throws {
        #expect(try outcome("").get() == nil)
        #expect(try outcome(#"{"userId":"u-1"}"#).get() == "u-1")
        #expect(try outcome(#"{"other":[1,2],"userId":"u-2"}"#).get() == "u-2")
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
