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
