import Logging
import NIOCore

/// Per-request facts handed to a route handler next to the ``HTTPRequest``.
public struct RequestContext: Sendable {
    /// The request id: the client's valid `X-Request-Id`, or a generated one; echoed in the response.
    public let requestID: String
    /// A logger carrying `request.id` metadata (made when asked for: most requests log
    /// nothing, and setting metadata copies the handler's metadata on every request).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request.id"] = "\(requestID)"
        return logger
    }
    /// The server's logger, without the request's metadata.
    let baseLogger: Logger
    /// The event loop of the connection (synchronous handlers run on it).
    public let eventLoop: any EventLoop
    /// The client's address, when known.
    public let remoteAddress: SocketAddress?
    /// The pattern of the matched route, e.g. `/v1/events/{eventId}/queue`.
    public let routePattern: String
    /// The handler may throw ``HTTPConnectionHandOff`` to have this connection served by another
    /// worker process: the server has a ``ConnectionHandoff``, the handler is asynchronous, the
    /// connection is a keep-alive HTTP/1.1 one this worker accepted itself, and no hand-off of
    /// it failed before.
    public let canHandOff: Bool

    init(requestID: String, baseLogger: Logger, eventLoop: any EventLoop, remoteAddress: SocketAddress?, routePattern: String,
         canHandOff: Bool = false) {
        self.requestID = requestID
        self.baseLogger = baseLogger
        self.eventLoop = eventLoop
        self.remoteAddress = remoteAddress
        self.routePattern = routePattern
        self.canHandOff = canHandOff
    }

    /// The same context without the hand-off option (the handler runs again after a hand-off
    /// that did not happen).
    func withoutHandOff() -> RequestContext {
        RequestContext(requestID: requestID, baseLogger: baseLogger, eventLoop: eventLoop, remoteAddress: remoteAddress,
                       routePattern: routePattern, canHandOff: false)
    }
}
