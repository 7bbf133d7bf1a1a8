/// An asynchronous route handler; it runs off the event loop, its answer is written back on it.
public typealias HTTPHandler = @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse

/// A synchronous route handler; it runs on the connection's event loop, so it must be fast and
/// must never block (health checks, cached answers, in-memory lookups).
public typealias SyncHTTPHandler = @Sendable (HTTPRequest, RequestContext) throws -> HTTPResponse

/// How a route computes its answer.
public enum RouteHandler: Sendable {
    /// Computed on the event loop, no task hop.
    case sync(SyncHTTPHandler)
    /// Computed in a task off the event loop.
    case async(HTTPHandler)
}
