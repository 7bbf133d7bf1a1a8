import Foundation

/// A Swift value that can be sent as a statement parameter.
public protocol PostgresEncodable: Sendable {
    /// The parameter this value is sent as.
    var postgresValue: PostgresValue { get }
}

extension PostgresValue: PostgresEncodable {
    public var postgresValue: PostgresValue { self }
}
extension String: PostgresEncodable {
    public var postgresValue: PostgresValue { .string(self) }
}
extension Substring: PostgresEncodable {
    public var postgresValue: PostgresValue { .string(String(self)) }
}
extension Int: PostgresEncodable {
    public var postgresValue: PostgresValue { .int(Int64(self)) }
}
extension Int64: PostgresEncodable {
    public var postgresValue: PostgresValue { .int(self) }
}
extension Int32: PostgresEncodable {
    public var postgresValue: PostgresValue { .int(Int64(self)) }
}
extension Int16: PostgresEncodable {
    public var postgresValue: PostgresValue { .int(Int64(self)) }
}
extension Bool: PostgresEncodable {
    public var postgresValue: PostgresValue { .bool(self) }
}
extension Double: PostgresEncodable {
    public var postgresValue: PostgresValue { .double(self) }
}
extension Date: PostgresEncodable {
    public var postgresValue: PostgresValue { .date(self) }
}
extension UUID: PostgresEncodable {
    public var postgresValue: PostgresValue { .uuid(self) }
}
extension Array: PostgresEncodable where Element == UInt8 {
    public var postgresValue: PostgresValue { .bytes(self) }
}
extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresValue: PostgresValue { self?.postgresValue ?? .null }
}
