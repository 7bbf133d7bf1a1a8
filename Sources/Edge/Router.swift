import NIOHTTP1

/// Routes requests by method and path pattern; a pure value type (no I/O), built before the
/// server starts and read-only afterwards.
///
/// Patterns are `/`-separated segments, each a literal or a whole-segment `{name}` parameter:
/// `/v1/events/{eventId}/queue/{ticket}`. Matching walks a segment tree (literal children before
/// the parameter child, with backtracking); no regex runs per request.
///
/// Path policy: matching is exact and case-sensitive; a trailing slash or an empty segment does not
/// match (`/healthz/` is `404`); a parameter matches one non-empty segment; `HEAD` is served by the
/// `GET` route when no `HEAD` route exists. Registering an invalid or duplicate pattern is a
/// programming error and traps.
public struct Router: Sendable {
    struct Route: Sendable {
        let method: HTTPMethod
        let pattern: String
        let parameterNames: [String]
        let idFlags: [Bool]
        let handler: RouteHandler
    }

    struct Node: Sendable {
        var literals: [Substring: Int] = [:]
        var parameterChild: Int?
        var routes: [(method: HTTPMethod, route: Int)] = []

        func route(for method: HTTPMethod) -> (method: HTTPMethod, route: Int)? {
            if let exact = self.routes.first(where: { $0.method == method }) { return exact }
            if method == .HEAD { return self.routes.first { $0.method == .GET } }
            return nil
        }
    }

    private(set) var routes: [Route] = []
    private var nodes: [Node] = [Node()]

    /// Creates an empty router.
    public init() {}

    /// The `(method, pattern)` of every route, indexed by ``RouteMatch/routeIndex``.
    public var registeredRoutes: [(method: HTTPMethod, pattern: String)] {
        self.routes.map { ($0.method, $0.pattern) }
    }

    /// Registers `handler` for `method` and `pattern`; `ids` says which parameters are ids.
    public mutating func on(_ method: HTTPMethod, _ pattern: String, ids: PathIDPolicy = .all, _ handler: RouteHandler) {
        let segments = Router.parse(pattern)
        var node = 0
        var names: [String] = []
        for segment in segments {
            switch segment {
            case .literal(let text):
                if let child = self.nodes[node].literals[text] {
                    node = child
                } else {
                    self.nodes.append(Node())
                    self.nodes[node].literals[text] = self.nodes.count - 1
                    node = self.nodes.count - 1
                }
            case .parameter(let name):
                precondition(!names.contains(name), "duplicate parameter {\(name)} in route \(pattern)")
                names.append(name)
                if let child = self.nodes[node].parameterChild {
                    node = child
                } else {
                    self.nodes.append(Node())
                    self.nodes[node].parameterChild = self.nodes.count - 1
                    node = self.nodes.count - 1
                }
            }
        }
        precondition(
            !self.nodes[node].routes.contains { $0.method == method },
            "route \(method.rawValue) \(pattern) registered twice"
        )
        self.routes.append(Route(
            method: method,
            pattern: pattern,
            parameterNames: names,
            idFlags: names.map { ids.isID($0) },
            handler: handler
        ))
        self.nodes[node].routes.append((method, self.routes.count - 1))
    }

    /// Registers an asynchronous `GET` route.
    public mutating func get(_ pattern: String, ids: PathIDPolicy = .all, _ handler: @escaping HTTPHandler) {
        self.on(.GET, pattern, ids: ids, .async(handler))
    }

    /// Registers an asynchronous `POST` route.
    public mutating func post(_ pattern: String, ids: PathIDPolicy = .all, _ handler: @escaping HTTPHandler) {
        self.on(.POST, pattern, ids: ids, .async(handler))
    }

    /// Registers a `POST` route answered through a future on the connection's event loop.
    public mutating func post(_ pattern: String, ids: PathIDPolicy = .all, future handler: @escaping FutureHTTPHandler) {
        self.on(.POST, pattern, ids: ids, .future(handler))
    }

    /// Registers an asynchronous `PUT` route.
    public mutating func put(_ pattern: String, ids: PathIDPolicy = .all, _ handler: @escaping HTTPHandler) {
        self.on(.PUT, pattern, ids: ids, .async(handler))
    }

    /// Registers an asynchronous `PATCH` route.
    public mutating func patch(_ pattern: String, ids: PathIDPolicy = .all, _ handler: @escaping HTTPHandler) {
        self.on(.PATCH, pattern, ids: ids, .async(handler))
    }

    /// Registers an asynchronous `DELETE` route.
    public mutating func delete(_ pattern: String, ids: PathIDPolicy = .all, _ handler: @escaping HTTPHandler) {
        self.on(.DELETE, pattern, ids: ids, .async(handler))
    }

    /// Finds the route for `method` and `path` (the path without the query string).
    public func match(method: HTTPMethod, path: Substring) -> RouteMatchResult {
        guard path.utf8.first == UInt8(ascii: "/") else { return .notFound }
        // Split at each "/" by bytes: `split` on a Substring walks Characters (grapheme breaking),
        // about 2 % of a worker's CPU on the join path.
        var segments: [Substring] = []
        if path.utf8.count > 1 {
            segments.reserveCapacity(6)
            let bytes = path.utf8
            var start = bytes.index(after: bytes.startIndex)
            var index = start
            while index < bytes.endIndex {
                if bytes[index] == UInt8(ascii: "/") {
                    segments.append(path[start..<index])
                    start = bytes.index(after: index)
                }
                index = bytes.index(after: index)
            }
            segments.append(path[start..<bytes.endIndex])
        }

        var captured: [Substring] = []
        captured.reserveCapacity(4)
        var allowed: [HTTPMethod] = []
        var found: (method: HTTPMethod, route: Int, values: [Substring])?
        _ = self.search(
            node: 0, depth: 0, segments: segments, method: method,
            captured: &captured, allowed: &allowed, found: &found
        )

        guard let found else {
            if allowed.isEmpty { return .notFound }
            if allowed.contains(.GET) && !allowed.contains(.HEAD) { allowed.append(.HEAD) }
            return .methodNotAllowed(allowed: allowed)
        }
        let route = self.routes[found.route]
        var pairs: [(name: String, value: String)] = []
        pairs.reserveCapacity(found.values.count)
        for (index, value) in found.values.enumerated() {
            let name = route.parameterNames[index]
            if route.idFlags[index] && !PathID.isValid(value) {
                return .invalidID(routeIndex: found.route, parameter: name)
            }
            pairs.append((name, String(value)))
        }
        return .matched(RouteMatch(
            routeIndex: found.route,
            method: found.method,
            pattern: route.pattern,
            parameters: PathParameters(pairs),
            handler: route.handler
        ))
    }

    /// Depth-first walk; returns `true` once a route for `method` is found.
    private func search(
        node index: Int,
        depth: Int,
        segments: [Substring],
        method: HTTPMethod,
        captured: inout [Substring],
        allowed: inout [HTTPMethod],
        found: inout (method: HTTPMethod, route: Int, values: [Substring])?
    ) -> Bool {
        let node = self.nodes[index]
        if depth == segments.count {
            if let hit = node.route(for: method) {
                found = (hit.method, hit.route, captured)
                return true
            }
            for entry in node.routes where !allowed.contains(entry.method) {
                allowed.append(entry.method)
            }
            return false
        }
        let segment = segments[depth]
        if let child = node.literals[segment],
           self.search(node: child, depth: depth + 1, segments: segments, method: method,
                       captured: &captured, allowed: &allowed, found: &found) {
            return true
        }
        if let child = node.parameterChild, !segment.isEmpty {
            captured.append(segment)
            if self.search(node: child, depth: depth + 1, segments: segments, method: method,
                           captured: &captured, allowed: &allowed, found: &found) {
                return true
            }
            captured.removeLast()
        }
        return false
    }

    enum Segment: Equatable {
        case literal(Substring)
        case parameter(String)
    }

    /// Parses a pattern; traps on an invalid one (routes are registered by code, not by users).
    static func parse(_ pattern: String) -> [Segment] {
        precondition(pattern.hasPrefix("/"), "route pattern must start with /: \(pattern)")
        if pattern == "/" { return [] }
        return pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { part in
            precondition(!part.isEmpty, "route pattern has an empty segment: \(pattern)")
            if part.hasPrefix("{") {
                precondition(part.hasSuffix("}") && part.count > 2, "malformed parameter in \(pattern)")
                let name = part.dropFirst().dropLast()
                precondition(
                    name.utf8.allSatisfy { byte in
                        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                            || byte == UInt8(ascii: "_")
                    },
                    "malformed parameter name in \(pattern)"
                )
                return .parameter(String(name))
            }
            precondition(!part.contains("{") && !part.contains("}"), "braces inside a literal segment: \(pattern)")
            return .literal(part)
        }
    }
}
