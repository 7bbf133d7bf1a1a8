import Logging
import NIOCore

/// Per-request facts handed to a route handler next to the ``HTTPRequest``.
public struct RequestContext: Sendable {
    /// The request id: the client's valid `X-Request-Id`, or a generated one; echoed in the response.
    public let requestID: String
    /// A logger carrying `request.id` metadata.
    public var logger: Logger
    /// The event loop of the connection (synchronous handlers run on it).
    public let eventLoop: any EventLoop
    /// The client's address, when known.
    public let remoteAddress: SocketAddress?
    /// The pattern of the matched route, e.g. `/v1/events/{eventId}/queue`.
    public let routePattern: String
}
