import NIOCore

/// An asynchronous route handler. It runs as a task whose executor is the connection's event loop
/// (a task executor preference): its code between awaits runs on the loop, like a future
/// handler's, and what it awaits (Redis, PostgreSQL, other tasks) resumes it there, so a request
/// costs no hops between the loop and the global executor's threads. Like every handler it must
/// never block.
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
    /// Computed in a task on the connection's event loop (it may await).
    case async(HTTPHandler)
    /// Started on the event loop, completed by a future (no task hop).
    case future(FutureHTTPHandler)
}
