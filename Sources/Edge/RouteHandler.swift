import NIOCore

/// An asynchronous route handler; it runs off the event loop, its answer is written back on it.
public typealias HTTPHandler = @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse

/// A synchronous route handler; it runs on the connection's event loop, so it must be fast and
/// must never block (health checks, cached answers, in-memory lookups).
public typealias SyncHTTPHandler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

/// A route handler that runs on the connection's event loop and answers later through a future:
/// for non-blocking work (e.g. Redis calls) without a task hop. It must never block; a thrown
/// error or a failed future is answered like any other error.
public typealias FutureHTTPHandler = @Sendable (HTTPRequest, RequestContext) throws -> EventLoopFuture<HTTPResponse>

/// How a route computes its answer.
public enum RouteHandler: Sendable {
    /// Computed on the event loop, no task hop.
    case sync(SyncHTTPHandler)
    /// Computed in a task off the event loop.
    case async(HTTPHandler)
    /// Started on the event loop, completed by a future (no task hop).
    case future(FutureHTTPHandler)
}
