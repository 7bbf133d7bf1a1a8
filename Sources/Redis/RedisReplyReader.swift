import CHiredis
import NIOCore

/// Owns a hiredis `redisReader` and turns its `redisReply` trees into ``RedisValue``s.
///
/// Not thread-safe: it is used by one channel handler on one event loop.
final class RedisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else { fatalError("hiredis: out of memory creating a reader") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    /// Hands bytes to the parser; they are copied.
    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let status = redisReaderFeed(reader, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        guard status == REDIS_OK else { throw protocolError() }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    func next() throws -> RedisValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw protocolError() }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private func protocolError() -> RedisError {
        let message = withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return RedisError(code: .protocolError, message: "RESP protocol error: \(message)")
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            var buffer = ByteBufferAllocator().buffer(capacity: r.len)
            if r.len > 0 {
                buffer.writeBytes(UnsafeRawBufferPointer(start: r.str, count: r.len))
            }
            return .bulkString(buffer)
        case REDIS_REPLY_ARRAY:
            var values: [RedisValue] = []
            values.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] {
                    values.append(convert(element))
                } else {
                    values.append(.null)
                }
            }
            return .array(values)
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_STATUS:
            return .simpleString(text(r))
        case REDIS_REPLY_ERROR:
            return .error(text(r))
        default:  // REDIS_REPLY_NIL: both `$-1` and `*-1`.
            return .null
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard r.len > 0, let str = r.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
    }
}
