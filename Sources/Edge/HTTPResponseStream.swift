/// The extension point for streamed bodies (Server-Sent Events and the like).
///
/// When a handler returns a response whose body is `.stream(...)`, the server writes the head
/// (chunked on HTTP/1.1; on HTTP/1.0 the connection closes at the end), then calls ``start`` on
/// the connection's event loop with a writer. The stream owns the body until it calls
/// ``HTTPBodyStreamWriter/finish()``; the connection then carries on (keep-alive) or closes. No
/// connection timeout applies while a stream is open: the stream must send its own keepalives.
///
/// A one-way stream (Server-Sent Events) can set ``takesOverConnection``: the head then says
/// `Connection: close`, the HTTP handlers leave the connection, and each write goes to the socket
/// as one chunk framed by the writer (no codec, pipelining or timeout handler per write, and less
/// memory per open stream); the connection closes when the stream finishes.
public struct HTTPResponseStream: Sendable {
    /// Called on the connection's event loop once the head is written.
    public var start: @Sendable (HTTPBodyStreamWriter) -> Void
    /// Called on the connection's event loop when the server starts its graceful shutdown while
    /// the stream is open, so it can tell the client to reconnect and ``HTTPBodyStreamWriter/finish()``.
    public var onDrain: (@Sendable (HTTPBodyStreamWriter) -> Void)?
    /// Called on the connection's event loop when the channel's writability changes (`true`:
    /// writable again), so a stream can stop writing to a slow reader and resume later.
    public var onWritabilityChanged: (@Sendable (HTTPBodyStreamWriter, Bool) -> Void)?
    /// Whether the stream takes the connection over once the head is written (see the type's
    /// notes): for long one-way streams that end with the connection.
    public var takesOverConnection: Bool
    /// Called on the connection's event loop, synchronously, the moment a taken-over connection
    /// becomes inactive (its socket is closed): a stream that writes to the socket directly
    /// (``HTTPBodyStreamWriter/directSocket``) must forget the descriptor right there, before
    /// the number can be reused by another connection.
    var onInactive: (@Sendable (HTTPBodyStreamWriter) -> Void)?

    /// Creates a stream body.
    public init(
        takesOverConnection: Bool = false,
        onDrain: (@Sendable (HTTPBodyStreamWriter) -> Void)? = nil,
        onWritabilityChanged: (@Sendable (HTTPBodyStreamWriter, Bool) -> Void)? = nil,
        start: @escaping @Sendable (HTTPBodyStreamWriter) -> Void
    ) {
        self.takesOverConnection = takesOverConnection
        self.start = start
        self.onDrain = onDrain
        self.onWritabilityChanged = onWritabilityChanged
    }
}
