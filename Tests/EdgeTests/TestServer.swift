import Edge
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A domain error that maps itself to an API answer, as Waitroom/Inventory errors will.
struct DependencyDownError: HTTPErrorConvertible {
    var httpError: HTTPError {
        .dependencyUnavailable("redis is unavailable", retryAfterSeconds: 7)
    }
}

/// An error with internals that must never reach a client.
struct SecretInternalError: Error, CustomStringConvertible {
    var description: String { "password=hunter2" }
}

struct EchoBody: Codable, Equatable {
    var id: String
    var query: String?
}

enum TestServer {
    static func logger() -> Logger {
        var logger = Logger(label: "edge-tests")
        logger.logLevel = .critical
        return logger
    }

    static func configuration() -> EdgeConfiguration {
        EdgeConfiguration(host: "127.0.0.1", port: 0, drainTimeout: .seconds(5), lingerTimeout: .milliseconds(500))
    }

    /// The routes the server tests use.
    static func router() -> Router {
        var router = Router()
        router.on(.GET, "/v1/echo/{id}", .sync { request, _ in
            try .json(EchoBody(id: try request.pathParameters.require("id"), query: request.queryValue("q")))
        })
        router.post("/v1/echo") { request, _ in
            .text("received \(request.body.readableBytes) bytes")
        }
        router.get("/v1/events/{eventId}/queue/{ticket}") { request, _ in
            .text("\(request.pathParameters["eventId"]!)/\(request.pathParameters["ticket"]!)")
        }
        router.get("/slow") { request, _ in
            let milliseconds = Int(request.queryValue("ms") ?? "200") ?? 200
            try await Task.sleep(for: .milliseconds(milliseconds))
            return .text("slow done")
        }
        router.get("/fail/header") { request, _ in
            // A handler that (wrongly) puts a request value with a line break into a header.
            .text("split", headers: ["X-Echo": "a\r\nSet-Cookie: " + (request.queryValue("v") ?? "x")])
        }
        router.get("/fail/convertible") { _, _ in throw DependencyDownError() }
        router.get("/fail/internal") { _, _ in throw SecretInternalError() }
        router.on(.GET, "/fail/sync", .sync { _, _ in throw HTTPError(.conflict, code: "reservation_expired", message: "gone") })
        router.get("/stream") { _, _ in
            .stream(headers: ["Content-Type": "text/event-stream"], HTTPResponseStream { writer in
                writer.write(ByteBuffer(string: "a"))
                writer.eventLoop.scheduleTask(in: .milliseconds(20)) {
                    writer.write(ByteBuffer(string: "b"), flush: false)
                    writer.write(ByteBuffer(string: "c"))
                    writer.finish()
                }
            })
        }
        router.get("/stream/takeover") { _, _ in
            // A one-way stream that takes the connection over: framed by the writer, ends with it.
            .stream(headers: ["Content-Type": "text/event-stream"], HTTPResponseStream(takesOverConnection: true) { writer in
                var first = writer.makeBuffer(capacity: 8)
                first.writeString("a")
                writer.write(first)
                writer.eventLoop.scheduleTask(in: .milliseconds(20)) {
                    writer.write(ByteBuffer(string: "b"), flush: false)
                    writer.write(ByteBuffer(string: String(repeating: "c", count: 300)))
                    writer.finish()
                }
            })
        }
        router.on(.GET, "/endless", .sync { _, _ in
            // A stream that only ends when the server drains (the SSE pattern).
            .stream(HTTPResponseStream(onDrain: { writer in
                writer.write(ByteBuffer(string: "bye"))
                writer.finish()
            }, start: { writer in
                writer.write(ByteBuffer(string: "hello;"))
            }))
        })
        return router
    }

    /// Runs `body` against a started server and shuts it down afterwards.
    static func with(
        configuration: EdgeConfiguration = TestServer.configuration(),
        router: Router = TestServer.router(),
        checks: [ReadinessCheck] = [],
        _ body: (EdgeServer, Int) async throws -> Void
    ) async throws {
        let server = EdgeServer(
            configuration: configuration,
            router: router,
            readinessChecks: checks,
            metricsRegistry: PrometheusCollectorRegistry(),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: TestServer.logger()
        )
        try await server.start()
        do {
            try await body(server, server.port!)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func get(_ path: String, headers: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n"
    }
}
