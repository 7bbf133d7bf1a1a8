import Foundation

/// A Swift type that can be decoded from a column's text-format value.
public protocol PostgresDecodable: Sendable {
    /// Decodes from the text-format value; `text == nil` means SQL NULL.
    /// Non-optional types throw `.decoding` for NULL; `Optional` maps NULL to `nil`.
    static func decode(postgresText text: String?) throws -> Self
}

@usableFromInline
func nullError(_ type: Any.Type) -> PostgresError {
    PostgresError(code: .decoding, message: "unexpected NULL for non-optional \(type)")
}

@usableFromInline
func formatError(_ type: Any.Type, _ text: String) -> PostgresError {
    PostgresError(code: .decoding, message: "cannot decode \(type) from '\(text.prefix(64))'")
}

extension String: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> String {
        guard let text else { throw nullError(Self.self) }
        return text
    }
}

extension Int: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Int {
        guard let text else { throw nullError(Self.self) }
        guard let v = Int(text) else { throw formatError(Self.self, text) }
        return v
    }
}

extension Int64: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Int64 {
        guard let text else { throw nullError(Self.self) }
        guard let v = Int64(text) else { throw formatError(Self.self, text) }
        return v
    }
}

extension Int32: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Int32 {
        guard let text else { throw nullError(Self.self) }
        guard let v = Int32(text) else { throw formatError(Self.self, text) }
        return v
    }
}

extension Bool: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Bool {
        guard let text else { throw nullError(Self.self) }
        switch text {
        case "t", "true": return true
        case "f", "false": return false
        default: throw formatError(Self.self, text)
        }
    }
}

extension Double: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Double {
        guard let text else { throw nullError(Self.self) }
        switch text {
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        case "NaN": return .nan
        default:
            guard let v = Double(text) else { throw formatError(Self.self, text) }
            return v
        }
    }
}

extension Date: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Date {
        guard let text else { throw nullError(Self.self) }
        guard let v = PostgresDateCoding.parse(text) else { throw formatError(Self.self, text) }
        return v
    }
}

extension UUID: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> UUID {
        guard let text else { throw nullError(Self.self) }
        guard let v = UUID(uuidString: text) else { throw formatError(Self.self, text) }
        return v
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// Decodes `bytea` in hex output format (`\x0a1b...`, the server default).
    public static func decode(postgresText text: String?) throws -> [UInt8] {
        guard let text else { throw nullError(Self.self) }
        let b = Array(text.utf8)
        guard b.count >= 2, b[0] == 0x5C, b[1] == 0x78, b.count % 2 == 0 else {
            throw formatError(Self.self, text)
        }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((b.count - 2) / 2)
        var i = 2
        while i < b.count {
            guard let h = nibble(b[i]), let l = nibble(b[i + 1]) else { throw formatError(Self.self, text) }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText text: String?) throws -> Wrapped? {
        guard let text else { return nil }
        return try Wrapped.decode(postgresText: text)
    }
}
