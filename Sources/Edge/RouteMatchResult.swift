import NIOHTTP1

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
