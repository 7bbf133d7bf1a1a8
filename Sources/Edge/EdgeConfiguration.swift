import NIOCore

/// Settings of one ``EdgeServer``: where it listens and the limits it enforces per connection.
public struct EdgeConfiguration: Sendable {
    /// The address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
    public var host: String
    /// The port to bind; `0` picks a free port (read it back from ``EdgeServer/port``).
    public var port: Int
    /// Sets `SO_REUSEPORT` on the listening socket so several worker processes can share the port.
    public var reusePort: Bool
    /// The listen backlog.
    public var backlog: Int32
    /// The largest request body accepted; larger bodies are answered `413 payload_too_large`.
    public var maxBodyBytes: Int
    /// The largest request head (all header names and values) accepted; larger heads get `431`.
    public var maxHeaderBytes: Int
    /// Time a client has to deliver a complete request head, counted from the connection's start or
    /// from the first byte of a follow-up request on a kept-alive connection (slowloris defence).
    public var headerTimeout: Duration
    /// Longest pause between two reads of a request body before the request is timed out (`408`).
    public var bodyTimeout: Duration
    /// Time a client has to deliver a whole request body, counted from the end of its head
    /// (`408` after it, however steadily the bytes trickle).
    public var bodyDeadline: Duration
    /// Time a kept-alive connection may sit idle between requests before it is closed.
    public var idleTimeout: Duration
    /// On graceful shutdown, how long in-flight requests may take before connections are force-closed.
    public var drainTimeout: Duration
    /// After an error answer that ends the connection (`400`, `413`, ...), how long unread input is
    /// drained before the socket is closed, so the client reads the answer instead of a reset.
    public var lingerTimeout: Duration
    /// Default timeout of one readiness check on `GET /readyz`.
    public var readinessCheckTimeout: Duration
    /// `Retry-After` seconds sent with a `503` from `GET /readyz`.
    public var readinessRetryAfterSeconds: Int
    /// Number of event loop threads when the server creates its own event loop group.
    public var eventLoopCount: Int
    /// Size of a connection's first receive buffer (it adapts from there, up to 64 KiB). The
    /// channel keeps its receive buffer for its whole life, so this is memory per open stream;
    /// a request head of a stream usually fits in 1 KiB.
    public var initialReceiveBufferBytes: Int

    /// Creates a configuration; every value has a production default.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        reusePort: Bool = false,
        backlog: Int32 = 4096,
        maxBodyBytes: Int = 64 * 1024,
        maxHeaderBytes: Int = 32 * 1024,
        headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30),
        bodyDeadline: Duration = .seconds(60),
        idleTimeout: Duration = .seconds(60),
        drainTimeout: Duration = .seconds(10),
        lingerTimeout: Duration = .seconds(2),
        readinessCheckTimeout: Duration = .seconds(1),
        readinessRetryAfterSeconds: Int = 5,
        eventLoopCount: Int = System.coreCount,
        initialReceiveBufferBytes: Int = 1024
    ) {
        self.host = host
        self.port = port
        self.reusePort = reusePort
        self.backlog = backlog
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.bodyDeadline = bodyDeadline
        self.idleTimeout = idleTimeout
        self.drainTimeout = drainTimeout
        self.lingerTimeout = lingerTimeout
        self.readinessCheckTimeout = readinessCheckTimeout
        self.readinessRetryAfterSeconds = readinessRetryAfterSeconds
        self.eventLoopCount = eventLoopCount
        self.initialReceiveBufferBytes = initialReceiveBufferBytes
    }
}
