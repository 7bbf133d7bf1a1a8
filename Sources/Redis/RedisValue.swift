import NIOCore

/// A reply from Redis, decoded from RESP2.
///
/// Nil bulk strings (`$-1`) and nil arrays (`*-1`) are both ``null``.
public enum RedisValue: Sendable, Hashable {
    /// A status reply such as `+OK` or `+PONG`.
    case simpleString(String)
    /// An error reply such as `-WRONGTYPE Operation against a key ...`, the whole message.
    ///
    /// `RedisClient.send` and `eval` throw these as ``RedisError`` with code `.server(prefix)`;
    /// inside `RedisClient.pipeline` results they stay values.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A (non-nil) bulk string reply; binary safe.
    case bulkString(ByteBuffer)
    /// A (non-nil) multi-bulk reply.
    case array([RedisValue])
    /// A nil bulk string or nil array.
    case null
}

extension RedisValue {
    /// `true` for ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The integer of an ``integer`` reply, or a bulk/simple string that parses as one.
    public var int: Int? {
        switch self {
        case .integer(let value): return Int(exactly: value)
        case .bulkString, .simpleString: return self.string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The text of a ``simpleString`` or ``bulkString`` (decoded as UTF-8), else `nil`.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let buffer): return String(buffer: buffer)
        default: return nil
        }
    }

    /// The bytes of a ``bulkString`` or ``simpleString``, else `nil`.
    public var bytes: [UInt8]? {
        switch self {
        case .simpleString(let text): return Array(text.utf8)
        case .bulkString(let buffer): return Array(buffer.readableBytesView)
        default: return nil
        }
    }

    /// The elements of an ``array``, else `nil`.
    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The message of an ``error`` reply, else `nil`.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    /// The error as a ``RedisError`` with code `.server(prefix)` for an ``error`` reply, else `nil`.
    public var serverError: RedisError? {
        if case .error(let message) = self { return RedisError(serverMessage: message) }
        return nil
    }
}

extension RedisValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .bulkString(let buffer): return "\"\(String(buffer: buffer))\""
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .null: return "(nil)"
        }
    }
}
