import NIOHTTP1

/// A route found for a request.
public struct RouteMatch: Sendable {
    /// The index of the route in registration order (stable for the router's lifetime).
    public let routeIndex: Int
    /// The route's method (`GET` when a `HEAD` request is served by a `GET` route).
    public let method: HTTPMethod
    /// The route's pattern, e.g. `/v1/events/{eventId}/queue`.
    public let pattern: String
    /// The parameter values taken from the path.
    public let parameters: PathParameters
    /// The handler to run.
    public let handler: RouteHandler
}

/// The outcome of ``Router/match(method:path:)``.
public enum RouteMatchResult: Sendable {
    /// A route serves the request.
    case matched(RouteMatch)
    /// No route has this path: `404 not_found`.
    case notFound
    /// Routes have this path but none with this method: `405` with `Allow`.
    case methodNotAllowed(allowed: [HTTPMethod])
    /// The route matched but an id parameter is malformed: `400 invalid_id`.
    case invalidID(routeIndex: Int, parameter: String)
}
