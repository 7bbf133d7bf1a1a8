#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Edge
import NIOCore

/// The body of `POST /v1/events/{eventId}/queue`: `{"userId": "u-123"}`, `userId` optional.
///
/// The usual body is read by a small scanner; a body it does not fully understand (nested
/// values, a repeated `userId`, malformed or unusual JSON) goes to `JSONDecoder`, which decides
/// as before. So the fast path never accepts what the decoder would refuse, nor reads a different
/// `userId`, and every refusal has the same status and code as before.
struct JoinRequestBody: Decodable, Sendable {
    var userId: String?

    /// The most bytes a `userId` may have.
    static let maxUserIdBytes = 128

    /// The `userId` of `body` (`nil` for an empty body or none given).
    /// Throws `400 invalid_json` for a body that is not such an object and `422 invalid_user_id`
    /// for an empty or too long `userId`.
    static func userId(from body: ByteBuffer) throws(HTTPError) -> String? {
        guard body.readableBytes > 0 else { return nil }
        let userId: String?
        switch body.readableBytesView.withContiguousStorageIfAvailable({ JoinRequestScanner.scan($0) })
            ?? JoinRequestScanner.scan(Array(body.readableBytesView)) {
        case .userId(let scanned):
            userId = scanned
        case .unsupported:
            userId = try decode(body)
        }
        if let userId, !(1...maxUserIdBytes).contains(userId.utf8.count) {
            throw HTTPError(.unprocessableEntity, code: "invalid_user_id", message: "userId must have 1 to \(maxUserIdBytes) bytes")
        }
        return userId
    }

    private static func decode(_ body: ByteBuffer) throws(HTTPError) -> String? {
        do {
            return try JSONDecoder().decode(JoinRequestBody.self, from: Data(body.readableBytesView)).userId
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            throw HTTPError(.badRequest, code: .invalidJSON, message: "The body must be an object whose userId is a string.")
        } catch {
            throw HTTPError(.badRequest, code: .invalidJSON, message: "The body is not the JSON expected.")
        }
    }
}

/// A scanner for the common join bodies: one JSON object whose member values are strings,
/// numbers, `true`, `false` or `null`. Pure; no allocation except the `userId` it returns.
enum JoinRequestScanner {
    enum Outcome: Equatable {
        /// The body is such an object; this is its `userId` (`nil`: absent or `null`).
        case userId(String?)
        /// Anything else: let the full decoder decide.
        case unsupported
    }

    static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        var reader = Reader(bytes: bytes)
        return reader.object() ?? .unsupported
    }

    static func scan(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBufferPointer { scan($0) }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        /// `{ "k": v, … }` then only white space; `nil` when unsupported.
        mutating func object() -> Outcome? {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var userId: String?
            var seenUserId = false
            skipSpace()
            if take(UInt8(ascii: "}")) { return end(.userId(nil)) }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                if key == "userId" {
                    guard !seenUserId else { return nil }
                    seenUserId = true
                    if peek == UInt8(ascii: "\"") {
                        guard let value = string() else { return nil }
                        userId = value
                    } else if literal("null") {
                        userId = nil
                    } else {
                        return nil
                    }
                } else if !skipScalar() {
                    return nil
                }
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return end(.userId(userId))
            }
        }

        mutating func end(_ outcome: Outcome) -> Outcome? {
            skipSpace()
            return index == bytes.count ? outcome : nil
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// A string, number, `true`, `false` or `null`.
        mutating func skipScalar() -> Bool {
            guard let byte = peek else { return false }
            switch byte {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() -> Bool {
            _ = take(UInt8(ascii: "-"))
            if take(UInt8(ascii: "0")) {
                // no leading zeros
            } else if digits() == 0 {
                return false
            }
            if take(UInt8(ascii: ".")), digits() == 0 { return false }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
                if digits() == 0 { return false }
            }
            return true
        }

        mutating func digits() -> Int {
            var count = 0
            while let byte = peek, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                index += 1
                count += 1
            }
            return count
        }

        /// A JSON string, unescaped; `nil` for a malformed one, a lone surrogate or invalid UTF-8.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            // The plain case: no escapes.
            while let byte = peek, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                guard byte >= 0x20 else { return nil }
                index += 1
            }
            guard let stop = peek else { return nil }
            if stop == UInt8(ascii: "\"") {
                index += 1
                return String(validating: UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)]), as: UTF8.self)
            }
            var out = Array(bytes[start..<index])
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { return nil }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return nil }
                        out.append(contentsOf: String(Character(scalar)).utf8)
                    default: return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    out.append(byte)
                }
            }
            return nil
        }

        /// After `\u`: four hex digits, or a surrogate pair written as two escapes.
        mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let first = hex4() else { return nil }
            if (0xD800...0xDBFF).contains(first) {
                guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let second = hex4(),
                      (0xDC00...0xDFFF).contains(second) else { return nil }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            return Unicode.Scalar(first)  // nil for a lone low surrogate
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}
