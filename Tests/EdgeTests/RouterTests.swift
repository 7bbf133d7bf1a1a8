@testable import Edge
import NIOHTTP1
import Testing

@Suite("Router matching (pure)")
struct RouterTests {
    static let ok: RouteHandler = .sync { _, _ in .status(.ok) }

    static func apiRouter() -> Router {
        var router = Router()
        router.on(.POST, "/v1/events/{eventId}/queue", ok)
        router.on(.GET, "/v1/events/{eventId}/queue/{ticket}", ok)
        router.on(.DELETE, "/v1/events/{eventId}/queue/{ticket}", ok)
        router.on(.GET, "/v1/events/{eventId}/queue/{ticket}/stream", ok)
        router.on(.GET, "/v1/events/stats", ok)
        router.on(.GET, "/v1/reservations/{reservationId}", ok)
        router.on(.POST, "/v1/reservations/{reservationId}/confirm", ok)
        router.on(.GET, "/e/{eventId}", ok)
        router.on(.GET, "/", ok)
        router.on(.GET, "/files/{name}", ids: .none, ok)
        router.on(.GET, "/pairs/{a}/{b}", ids: .only(["a"]), ok)
        return router
    }

    func matched(_ result: RouteMatchResult) -> RouteMatch? {
        if case .matched(let match) = result { return match }
        return nil
    }

    @Test func literalAndParameterRoutesMatch() throws {
        let router = Self.apiRouter()
        let match = try #require(matched(router.match(method: .GET, path: "/v1/events/e-1/queue/t_2")))
        #expect(match.pattern == "/v1/events/{eventId}/queue/{ticket}")
        #expect(match.parameters["eventId"] == "e-1")
        #expect(match.parameters["ticket"] == "t_2")
        #expect(match.parameters.count == 2)
        #expect(match.parameters["nope"] == nil)

        let stream = try #require(matched(router.match(method: .GET, path: "/v1/events/e/queue/t/stream")))
        #expect(stream.pattern == "/v1/events/{eventId}/queue/{ticket}/stream")

        let join = try #require(matched(router.match(method: .POST, path: "/v1/events/E9/queue")))
        #expect(join.method == .POST)
        #expect(join.parameters["eventId"] == "E9")
    }

    @Test func rootMatches() throws {
        let router = Self.apiRouter()
        let root = try #require(matched(router.match(method: .GET, path: "/")))
        #expect(root.pattern == "/")
        #expect(root.parameters.count == 0)
    }

    @Test func literalWinsOverParameterAndBacktracks() throws {
        let router = Self.apiRouter()
        // "stats" is a literal child of /v1/events; it must not be taken as {eventId}.
        let stats = try #require(matched(router.match(method: .GET, path: "/v1/events/stats")))
        #expect(stats.pattern == "/v1/events/stats")
        // The literal branch dead-ends deeper, so matching backtracks into {eventId}.
        let queue = try #require(matched(router.match(method: .POST, path: "/v1/events/stats/queue")))
        #expect(queue.parameters["eventId"] == "stats")
    }

    @Test func unknownPathsAre404() {
        let router = Self.apiRouter()
        for path in ["/nope", "/v1", "/v1/events", "/v1/events/e/queue/t/stream/more", "/V1/events/e/queue", "", "v1/events/e/queue"] {
            guard case .notFound = router.match(method: .GET, path: Substring(path)) else {
                Issue.record("expected 404 for \(path)")
                continue
            }
        }
    }

    @Test func trailingSlashAndEmptySegmentsDoNotMatch() {
        let router = Self.apiRouter()
        for path in ["/e/abc/", "/v1/events/e//queue", "//", "/v1/events/e/queue/", "/e//"] {
            guard case .notFound = router.match(method: .GET, path: Substring(path)) else {
                Issue.record("expected 404 for \(path)")
                continue
            }
        }
        guard case .notFound = router.match(method: .POST, path: "/v1/events/e/queue/") else {
            Issue.record("expected 404 for POST with trailing slash")
            return
        }
    }

    @Test func knownPathWithWrongMethodIs405WithAllowedMethods() {
        let router = Self.apiRouter()
        guard case .methodNotAllowed(let allowed) = router.match(method: .PUT, path: "/v1/events/e/queue/t") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed.map(\.rawValue) == ["GET", "DELETE", "HEAD"])

        guard case .methodNotAllowed(let postOnly) = router.match(method: .GET, path: "/v1/events/e/queue") else {
            Issue.record("expected 405")
            return
        }
        #expect(postOnly.map(\.rawValue) == ["POST"])
    }

    @Test func methodNotAllowedCollectsAcrossBacktrackedBranches() {
        let router = Self.apiRouter()
        // /v1/events/stats has GET only (literal); /v1/events/{eventId} has no route of its own.
        guard case .methodNotAllowed(let allowed) = router.match(method: .DELETE, path: "/v1/events/stats") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed.map(\.rawValue) == ["GET", "HEAD"])
    }

    @Test func headIsServedByGet() throws {
        let router = Self.apiRouter()
        let match = try #require(matched(router.match(method: .HEAD, path: "/e/ev1")))
        #expect(match.method == .GET)
    }

    @Test(arguments: [
        "a", "A-Z_09", String(repeating: "x", count: 64), "-", "_",
    ])
    func validIDsPass(id: String) throws {
        let router = Self.apiRouter()
        let match = try #require(matched(router.match(method: .GET, path: Substring("/e/" + id))))
        #expect(match.parameters["eventId"] == id)
    }

    @Test(arguments: [
        String(repeating: "x", count: 65), "a.b", "a%20b", "é", "a+b", "a~b", "a:b", "%2F",
    ])
    func invalidIDsAre400(id: String) {
        let router = Self.apiRouter()
        guard case .invalidID(let routeIndex, let parameter) = router.match(method: .GET, path: Substring("/e/" + id)) else {
            Issue.record("expected invalid_id for \(id)")
            return
        }
        #expect(parameter == "eventId")
        #expect(router.registeredRoutes[routeIndex].pattern == "/e/{eventId}")
    }

    @Test func invalidSecondIDIsNamed() {
        let router = Self.apiRouter()
        guard case .invalidID(_, let parameter) = router.match(method: .GET, path: "/v1/events/ok/queue/bad!") else {
            Issue.record("expected invalid_id")
            return
        }
        #expect(parameter == "ticket")
    }

    @Test func idPolicyLimitsValidation() throws {
        let router = Self.apiRouter()
        let file = try #require(matched(router.match(method: .GET, path: "/files/report.v2.pdf")))
        #expect(file.parameters["name"] == "report.v2.pdf")

        let pair = try #require(matched(router.match(method: .GET, path: "/pairs/ok/free.form")))
        #expect(pair.parameters["b"] == "free.form")
        guard case .invalidID(_, "a") = router.match(method: .GET, path: "/pairs/bad.id/x") else {
            Issue.record("expected invalid_id for a")
            return
        }
    }

    @Test func differentParameterNamesAtTheSamePosition() throws {
        var router = Router()
        router.on(.GET, "/a/{x}", Self.ok)
        router.on(.GET, "/a/{y}/b", Self.ok)
        let first = try #require(matched(router.match(method: .GET, path: "/a/1")))
        #expect(first.parameters["x"] == "1")
        let second = try #require(matched(router.match(method: .GET, path: "/a/2/b")))
        #expect(second.parameters["y"] == "2")
        #expect(second.parameters["x"] == nil)
    }

    @Test func patternParsing() {
        #expect(Router.parse("/") == [])
        #expect(Router.parse("/a/{b}/c") == [.literal("a"), .parameter("b"), .literal("c")])
    }

    @Test func registeredRoutesKeepOrder() {
        let router = Self.apiRouter()
        #expect(router.registeredRoutes.count == 11)
        #expect(router.registeredRoutes[0].method == .POST)
        #expect(router.registeredRoutes[0].pattern == "/v1/events/{eventId}/queue")
    }
}
