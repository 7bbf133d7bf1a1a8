@testable import Edge
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Testing

/// Two edge servers in this process stand in for two worker processes: each has its own port,
/// its own `ConnectionHandoff` socket in a shared directory, and answers with its name, so a
/// client sees which one served each request of its connection.
@Suite struct ConnectionHandoffTests {
    final class Workers: Sendable {
        let directory: String
        let servers: [EdgeServer]
        let handoffs: [ConnectionHandoff]

        init(count: Int = 2) throws {
            directory = NSTemporaryDirectory() + "handoff-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var servers: [EdgeServer] = []
            var handoffs: [ConnectionHandoff] = []
            for index in 0..<count {
                let handoff = ConnectionHandoff(directory: directory, index: index, logger: TestServer.logger())
                handoffs.append(handoff)
                servers.append(EdgeServer(
                    configuration: TestServer.configuration(),
                    router: Self.router(index: index),
                    metricsRegistry: PrometheusCollectorRegistry(),
                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                    logger: TestServer.logger(),
                    handoff: handoff))
            }
            self.servers = servers
            self.handoffs = handoffs
        }

        func start() async throws {
            for server in servers { try await server.start() }
        }

        func stop() async {
            for server in servers { await server.shutdown() }
            try? FileManager.default.removeItem(atPath: directory)
        }

        func port(_ index: Int) -> Int { servers[index].port! }

        /// `POST /steer?to=N` asks for a hand-off to worker N (when it may) and otherwise
        /// answers `<name> got <body> canHandOff=<flag>`; `GET /who` answers the name.
        static func router(index: Int) -> Router {
            let name = ["a", "b", "c"][index]
            var router = Router()
            router.post("/steer") { request, context in
                if context.canHandOff, let to = request.queryValue("to").flatMap(Int.init), to != index {
                    throw HTTPConnectionHandOff(target: to)
                }
                let body = String(decoding: request.body.readableBytesView, as: UTF8.self)
                return .text("\(name) got \(body) canHandOff=\(context.canHandOff)")
            }
            router.get("/who") { _, _ in .text(name) }
            return router
        }
    }

    static func steer(to target: Int, body: String, headers: String = "") -> String {
        "POST /steer?to=\(target) HTTP/1.1\r\nHost: test\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// The value of `http_connection_handoffs_total{result}` on worker `index`'s `/metrics`.
    static func handOffs(_ workers: Workers, _ index: Int, _ result: String) async throws -> Int {
        let connection = try await TestConnection.connect(port: workers.port(index))
        try await connection.send(TestServer.get("/metrics"))
        let text = try await connection.readResponse().bodyText
        await connection.close()
        let prefix = "http_connection_handoffs_total{result=\"\(result)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count)) ?? -1
    }

    @Test func aHandedOverConnectionIsServedByTheTargetFromThatRequestOn() async throws {
        let workers = try Workers()
        try await workers.start()
        let connection = try await TestConnection.connect(port: workers.port(0))
        try await connection.send(TestServer.get("/who"))
        #expect(try await connection.readResponse().bodyText == "a")

        try await connection.send(Self.steer(to: 1, body: "hello"))
        let moved = try await connection.readResponse()
        #expect(moved.status == 200)
        // Served by b, which received it (and may not hand it on).
        #expect(moved.bodyText == "b got hello canHandOff=false")
        for _ in 0..<3 {
            try await connection.send(TestServer.get("/who"))
            #expect(try await connection.readResponse().bodyText == "b")
        }
        #expect(try await Self.handOffs(workers, 0, "sent") == 1)
        #expect(try await Self.handOffs(workers, 1, "adopted") == 1)
        #expect(try await Self.handOffs(workers, 0, "failed") == 0)
        await connection.close()
        await workers.stop()
    }

    @Test func pipelinedRequestsAndAChunkedBodyGoAlongInOrder() async throws {
        let workers = try Workers()
        try await workers.start()
        let connection = try await TestConnection.connect(port: workers.port(0))
        // One write: a chunked request that asks for the hand-off, then two more behind it.
        let chunked = "POST /steer?to=1 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
        try await connection.send(chunked + TestServer.get("/who") + Self.steer(to: 0, body: "xy"))
        #expect(try await connection.readResponse().bodyText == "b got abcdef canHandOff=false")
        #expect(try await connection.readResponse().bodyText == "b")
        #expect(try await connection.readResponse().bodyText == "b got xy canHandOff=false")
        await connection.close()
        await workers.stop()
    }

    /// 40 connections at once, half accepted by each worker. Those on a go to b with their first
    /// request; those on b stay for theirs and go to a with the next. Either way once, and then
    /// for good: every later request is answered by the worker the connection went to.
    @Test func manyConnectionsAtOnceEachGoOverOnceAndLoseNothing() async throws {
        let workers = try Workers()
        try await workers.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                group.addTask {
                    let acceptedByA = n % 2 == 0
                    let connection = try await TestConnection.connect(port: workers.port(acceptedByA ? 0 : 1))
                    // Some pipeline another request behind the first.
                    let pipelined = n % 4 < 2
                    try await connection.send(Self.steer(to: 1, body: "c\(n)") + (pipelined ? TestServer.get("/who") : ""))
                    #expect(try await connection.readResponse().bodyText == "b got c\(n) canHandOff=\(!acceptedByA)")
                    if pipelined { #expect(try await connection.readResponse().bodyText == "b") }
                    for m in 0..<10 {
                        try await connection.send(Self.steer(to: 0, body: "\(n)-\(m)"))
                        let expected = acceptedByA ? "b got \(n)-\(m) canHandOff=false" : "a got \(n)-\(m) canHandOff=false"
                        #expect(try await connection.readResponse().bodyText == expected)
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.handOffs(workers, 0, "sent") == 20)
        #expect(try await Self.handOffs(workers, 1, "adopted") == 20)
        #expect(try await Self.handOffs(workers, 1, "sent") == 20)
        #expect(try await Self.handOffs(workers, 0, "adopted") == 20)
        await workers.stop()
    }

    @Test func anExpectedContinueIsAnsweredOnceAndTheBodyGoesAlong() async throws {
        let workers = try Workers()
        try await workers.start()
        let connection = try await TestConnection.connect(port: workers.port(0))
        try await connection.send("POST /steer?to=1 HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try await connection.readResponse(bodyless: true)
        #expect(interim.status == 100)
        try await connection.send("body")
        let answer = try await connection.readResponse()
        // b did not answer 100 again: the next thing on the wire is the final answer.
        #expect(answer.status == 200)
        #expect(answer.bodyText == "b got body canHandOff=false")
        await connection.close()
        await workers.stop()
    }

    @Test func aHandOffThatCannotHappenIsServedHereAndNotTriedAgain() async throws {
        let workers = try Workers()
        try await workers.start()
        let connection = try await TestConnection.connect(port: workers.port(0))
        // Worker 2 does not exist: the handler runs again here, without the option.
        try await connection.send(Self.steer(to: 2, body: "x"))
        #expect(try await connection.readResponse().bodyText == "a got x canHandOff=false")
        // Nor is a hand-off tried again on this connection.
        try await connection.send(Self.steer(to: 1, body: "y"))
        #expect(try await connection.readResponse().bodyText == "a got y canHandOff=false")
        #expect(try await Self.handOffs(workers, 0, "failed") == 1)
        #expect(try await Self.handOffs(workers, 0, "sent") == 0)

        // A request that closes its connection is not handed over either.
        let closing = try await TestConnection.connect(port: workers.port(0))
        try await closing.send(Self.steer(to: 1, body: "z", headers: "Connection: close\r\n"))
        #expect(try await closing.readResponse().bodyText == "a got z canHandOff=false")
        await closing.close()
        await connection.close()
        await workers.stop()
    }

    @Test func aWorkerThatRestartedReceivesAgain() async throws {
        let workers = try Workers(count: 3)
        try await workers.start()
        // Worker 0 sends to 1 once (its sending socket to 1 is open), then 1 stops: hand-offs to
        // it fail and are served by 0; a new worker 1 on the same socket path receives again.
        let first = try await TestConnection.connect(port: workers.port(0))
        try await first.send(Self.steer(to: 1, body: "1"))
        #expect(try await first.readResponse().bodyText == "b got 1 canHandOff=false")
        await workers.servers[1].shutdown()

        let second = try await TestConnection.connect(port: workers.port(0))
        try await second.send(Self.steer(to: 1, body: "2"))
        #expect(try await second.readResponse().bodyText == "a got 2 canHandOff=false")

        let restarted = EdgeServer(
            configuration: TestServer.configuration(), router: Workers.router(index: 1),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestServer.logger(),
            handoff: ConnectionHandoff(directory: workers.directory, index: 1, logger: TestServer.logger()))
        try await restarted.start()
        let third = try await TestConnection.connect(port: workers.port(0))
        try await third.send(Self.steer(to: 1, body: "3"))
        #expect(try await third.readResponse().bodyText == "b got 3 canHandOff=false")
        for connection in [first, second, third] { await connection.close() }
        await restarted.shutdown()
        await workers.stop()
    }

    @Test func theRequestIsEncodedAgainWithItsBodyLength() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "h")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        headers.add(name: "Expect", value: "100-continue")
        headers.add(name: "Authorization", value: "Bearer t")
        let request = HTTPRequest(method: .POST, uri: "/v1/x?y=1", headers: headers, body: ByteBuffer(string: "{\"a\":1}"))
        let text = String(decoding: ConnectionHandoff.encode(request), as: UTF8.self)
        #expect(text == "POST /v1/x?y=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\ncontent-length: 7\r\n\r\n{\"a\":1}")
        // The id this worker gave the request goes along, unless the client sent its own.
        let withID = String(decoding: ConnectionHandoff.encode(request, requestID: "req-1"), as: UTF8.self)
        #expect(withID.contains("\r\nx-request-id: req-1\r\ncontent-length: 7\r\n"))
        headers.add(name: "X-Request-Id", value: "mine")
        let own = HTTPRequest(method: .POST, uri: "/v1/x?y=1", headers: headers, body: ByteBuffer(string: "{\"a\":1}"))
        let kept = String(decoding: ConnectionHandoff.encode(own, requestID: "req-1"), as: UTF8.self)
        #expect(kept.contains("X-Request-Id: mine\r\n") && !kept.contains("req-1"))
    }
}
