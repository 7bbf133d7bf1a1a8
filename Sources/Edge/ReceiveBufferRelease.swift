import NIOCore
import Synchronization

/// Gives back the receive buffer a channel keeps for its next read, once the connection is a
/// stream that reads nothing more (see ``HTTPStreamHandler``).
///
/// NIO keeps the buffer of a channel's last read in the channel's receive pool, to read into it
/// again; it never lets go of it while the channel lives. For a server-sent-events stream that
/// buffer (1 KiB at the edge's default initial size, plus its storage object) is a quarter of
/// what the connection holds in user space, kept for the hours the stream is open although the
/// client sends nothing after its request. There is no public way to empty the pool, so, as
/// ``HTTPDirectSocket`` does for the descriptor, the runtime's field metadata tells once per
/// channel class where the channel keeps its `recvBufferPool` (checked to be an
/// `NIOPooledRecvBufferAllocator`), and the pool is replaced by an empty one with the same
/// allocator and capacity. A later read (the client's close, or bytes it should not send) simply
/// allocates a new buffer. When the field cannot be found, nothing happens.
enum ReceiveBufferRelease {
    private static let offsets = Mutex<[ObjectIdentifier: Int?]>([:])

    /// Empties `channel`'s receive pool. Call on the channel's event loop, outside its read.
    @discardableResult
    static func release(of channel: any Channel) -> Bool {
        guard let pool = Self.pool(of: channel) else { return false }
        guard pool.pointee.count > 0 else { return true }
        pool.pointee = NIOPooledRecvBufferAllocator(capacity: pool.pointee.capacity, recvAllocator: pool.pointee.recvAllocator)
        return true
    }

    /// The number of buffers `channel`'s receive pool holds (for tests), or nil when the pool
    /// cannot be found.
    static func pooledBuffers(of channel: any Channel) -> Int? {
        Self.pool(of: channel)?.pointee.count
    }

    /// The channel's receive pool, in place.
    private static func pool(of channel: any Channel) -> UnsafeMutablePointer<NIOPooledRecvBufferAllocator>? {
        guard let offset = Self.offset(in: type(of: channel)) else { return nil }
        let object = Unmanaged.passUnretained(channel as AnyObject).toOpaque()
        return (object + offset).assumingMemoryBound(to: NIOPooledRecvBufferAllocator.self)
    }

    private static func offset(in channelType: any Channel.Type) -> Int? {
        let key = ObjectIdentifier(channelType)
        if let known = Self.offsets.withLock({ $0[key] }) { return known }
        var found: Int?
        if let (offset, fieldType) = HTTPDirectSocket.field("recvBufferPool", of: channelType),
           fieldType == NIOPooledRecvBufferAllocator.self {
            found = offset
        }
        Self.offsets.withLock { $0[key] = .some(found) }
        return found
    }
}
