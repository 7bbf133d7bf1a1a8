import Foundation

/// A statement parameter. Always sent out-of-band (`PQexecParams`), never spliced into SQL.
///
/// Usually produced from Swift values through `PostgresEncodable`:
/// `client.query("SELECT $1::int + $2", [1, 2])` or `[.string(name), .null]`.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// Text; its type is left for the server to infer (`unknown`), so it works for text,
    /// varchar, uuid, json, enums, ...
    case string(String)
    /// `int8`.
    case int(Int64)
    /// `bool`.
    case bool(Bool)
    /// `float8`.
    case double(Double)
    /// `timestamptz`, sent as RFC 3339 text in UTC with microseconds.
    case date(Date)
    /// `uuid`.
    case uuid(UUID)
    /// `bytea`, sent in hex format.
    case bytes([UInt8])

    /// The parameter's type OID (0 = let the server infer) and text representation (`nil` = NULL).
    var wire: (oid: UInt32, text: String?) {
        switch self {
        case .null: return (0, nil)
        case .string(let s): return (0, s)
        case .int(let i): return (20, String(i))
        case .bool(let b): return (16, b ? "t" : "f")
        case .double(let d):
            if d.isNaN { return (701, "NaN") }
            if d.isInfinite { return (701, d < 0 ? "-Infinity" : "Infinity") }
            return (701, "\(d)")
        case .date(let d): return (1184, PostgresDateCoding.format(d))
        case .uuid(let u): return (2950, u.uuidString)
        case .bytes(let b):
            let digits: [UInt8] = Array("0123456789abcdef".utf8)
            var out: [UInt8] = [0x5C, 0x78]  // \x
            out.reserveCapacity(2 + b.count * 2)
            for byte in b {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
            return (17, String(decoding: out, as: UTF8.self))
        }
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
}
