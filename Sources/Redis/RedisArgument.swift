import NIOCore

/// One argument of a Redis command: binary-safe bytes.
///
/// Strings, integers, doubles, `ByteBuffer`s and byte arrays convert to it; literals work directly:
/// `client.send("SET", "k", 42)`.
public struct RedisArgument: Sendable, Hashable {
    /// The bytes sent to Redis.
    public var bytes: [UInt8]

    /// Bytes as they are.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// The UTF-8 bytes of a string.
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    /// The decimal text of an integer.
    public init<I: BinaryInteger>(_ value: I) { self.bytes = Array(String(value).utf8) }
    /// The text of a double as Redis parses it (`inf`/`-inf` for infinities).
    public init(_ value: Double) {
        if value == .infinity {
            self.bytes = Array("inf".utf8)
        } else if value == -.infinity {
            self.bytes = Array("-inf".utf8)
        } else {
            self.bytes = Array(String(value).utf8)
        }
    }
    /// The readable bytes of a buffer.
    public init(_ buffer: ByteBuffer) { self.bytes = Array(buffer.readableBytesView) }
}

extension RedisArgument: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(value) }
}

extension RedisArgument: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self.init(value) }
}

extension RedisArgument: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self.init(value) }
}

extension RedisArgument: CustomStringConvertible {
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
