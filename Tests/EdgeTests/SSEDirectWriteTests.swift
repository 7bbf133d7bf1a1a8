@testable import Edge
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

/// A resolver over `TestPositions` that counts how often it is asked.
final class CountingResolver: Sendable {
    let positions: TestPositions
    let calls = Atomic<Int>(0)
    init(_ positions: TestPositions) { self.positions = positions }

    var resolver: SSEHub.Resolver {
        { key in
            self.calls.add(1, ordering: .relaxed)
            return self.positions.resolver(key)
        }
    }
}

/// The fan-out's direct socket writes (``HTTPDirectSocket``), the walk that only looks at new
/// streams (``SSEHub/refresh(eventID:resolve:)``) and when an early tick's value goes out.
@Suite("SSE direct writes and walks")
struct SSEDirectWriteTests {
    @Test func theDescriptorFoundIsTheChannelsOwnSocket() async throws {
        let accepted = Mutex<(any Channel)?>(nil)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.withLock { $0 = channel }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        var child: (any Channel)?
        for _ in 0..<200 {
            child = accepted.withLock { $0 }
            if child != nil { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let channel = try #require(child)
        let descriptor = try await channel.eventLoop.submit { HTTPDirectSocket.descriptor(of: channel) }.get()
        let found = try #require(descriptor)
        // Bytes sent on it arrive at the client: it is this connection's socket.
        let sent = "hello".utf8.withContiguousStorageIfAvailable { HTTPDirectSocket.send(found, UnsafeRawBufferPointer($0)) }
        #expect(sent == 5)
        // A channel without a socket has none.
        #expect(HTTPDirectSocket.descriptor(of: EmbeddedChannel()) == nil)
        try await client.close()
        try await server.close()
    }

    @Test func aClosedStreamsSocketIsNeverWrittenAgain() async throws {
        try await SSEHubTests.with { hub, positions, _, port, _ in
            positions.set(1, position: 10)
            positions.set(2, position: 20)
            let first = try await SSEHubTests.open(port, key: 1)
            try await SSEHubTests.wait(first) { $0.events.count == 1 }
            await first.close()
            for _ in 0..<200 where await hub.stats().streams > 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            // The next connection most likely gets the closed one's descriptor number.
            let second = try await SSEHubTests.open(port, key: 2)
            try await SSEHubTests.wait(second) { $0.events.count == 1 }
            try await Task.sleep(for: .milliseconds(1050))
            positions.set(1, position: 9)
            positions.set(2, position: 19)
            hub.update(eventID: "e", resolve: positions.resolver)
            let received = try await SSEHubTests.wait(second) { $0.events.count == 2 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(SSEHubTests.received(second).events.count == 2)
            #expect(received.events.map(\.data) == [#"{"position":20,"etaSeconds":20}"#, #"{"position":19,"etaSeconds":19}"#])
            await second.close()
        }
    }

    @Test func anHTTP10StreamGetsUnframedFrames() async throws {
        try await SSEHubTests.with { hub, positions, _, port, _ in
            positions.set(1, position: 7)
            let connection = try await TestConnection.connect(port: port)
            try await connection.send("GET /s/1 HTTP/1.0\r\n\r\n")
            func text() -> String { String(decoding: connection.unparsedBytes, as: UTF8.self) }
            let deadline = ContinuousClock.now + .seconds(5)
            while !text().contains("\"position\":7,"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(1050))
            positions.set(1, position: 6)
            hub.update(eventID: "e", resolve: positions.resolver)
            while !text().contains("\"position\":6,"), ContinuousClock.now < deadline + .seconds(2) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let body = text().components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            #expect(text().hasPrefix("HTTP/1.0 200"))
            // No chunk sizes: the frames follow each other as they are.
            #expect(body.hasSuffix("id: 2\nevent: position\ndata: {\"position\":6,\"etaSeconds\":6}\n\n"), "\(body)")
            await connection.close()
        }
    }

    @Test func aWalkInSlicesReachesEveryStreamOnce() async throws {
        var configuration = SSEHubConfiguration()
        configuration.walkSlice = 2
        configuration.minimumInterval = .milliseconds(100)
        try await SSEHubTests.with(hubConfiguration: configuration) { hub, positions, _, port, _ in
            var connections: [TestConnection] = []
            for key in 1...5 {
                positions.set(key, position: 10 * key)
                let connection = try await SSEHubTests.open(port, key: key)
                try await SSEHubTests.wait(connection) { $0.events.count == 1 }
                connections.append(connection)
            }
            try await Task.sleep(for: .milliseconds(150))
            for key in 1...5 { positions.set(key, position: 10 * key - 1) }
            hub.update(eventID: "e", resolve: positions.resolver)
            for (index, connection) in connections.enumerated() {
                let received = try await SSEHubTests.wait(connection) { $0.events.count == 2 }
                #expect(received.events.last?.data?.contains("\"position\":\(10 * (index + 1) - 1),") == true)
            }
            try await Task.sleep(for: .milliseconds(100))
            for connection in connections {
                #expect(SSEHubTests.received(connection).events.count == 2)
                await connection.close()
            }
        }
    }

    @Test func refreshResolvesOnlyStreamsOpenedSinceTheLastWalk() async throws {
        try await SSEHubTests.with { hub, positions, _, port, _ in
            for key in 1...3 { positions.set(key, position: key) }
            var connections: [TestConnection] = []
            for key in 1...3 {
                let connection = try await SSEHubTests.open(port, key: key)
                try await SSEHubTests.wait(connection) { $0.events.count == 1 }
                connections.append(connection)
            }
            let counting = CountingResolver(positions)
            // A walk sees every stream (none due yet: they are deferred, and resolved when due).
            hub.update(eventID: "e", resolve: counting.resolver)
            _ = await hub.stats()
            try await Task.sleep(for: .milliseconds(1500))
            let afterWalk = counting.calls.load(ordering: .relaxed)
            #expect(afterWalk == 3)
            // Nothing moved and nobody is new: a refresh resolves nobody.
            hub.refresh(eventID: "e", resolve: counting.resolver)
            _ = await hub.stats()
            #expect(counting.calls.load(ordering: .relaxed) == afterWalk)
            // A stream that opened with a value the last walk already changed gets the current
            // one from the next refresh, when due.
            positions.set(4, position: 40)
            let late = try await SSEHubTests.open(port, key: 4)
            try await SSEHubTests.wait(late) { $0.events.count == 1 }
            positions.set(4, position: 39)
            hub.refresh(eventID: "e", resolve: counting.resolver)
            let received = try await SSEHubTests.wait(late, timeout: .seconds(3)) { $0.events.count == 2 }
            #expect(received.events.last?.data == #"{"position":39,"etaSeconds":39}"#)
            // Resolved once (when due), the other streams not at all.
            #expect(counting.calls.load(ordering: .relaxed) == afterWalk + 1)
            for connection in connections {
                #expect(SSEHubTests.received(connection).events.count == 1)
                await connection.close()
            }
            await late.close()
        }
    }

    @Test func withTicksASecondApartAnEarlyTickGoesOutWhenDue() async throws {
        try await SSEHubTests.with { hub, positions, _, port, _ in
            var position = 100
            positions.set(1, position: position)
            let connection = try await SSEHubTests.open(port, key: 1)
            try await SSEHubTests.wait(connection) { $0.events.count == 1 }
            // Ticks a second apart (each one due), so the hub learns their period.
            for count in 2...4 {
                try await Task.sleep(for: .milliseconds(1020))
                position -= 1
                positions.set(1, position: position)
                hub.update(eventID: "e", resolve: positions.resolver)
                try await SSEHubTests.wait(connection) { $0.events.count == count }
            }
            // A tick 500 ms early: the next one is a second away, so this value goes out when
            // due (≈ 500 ms), not at due + grace (750 ms) nor with the next tick.
            try await Task.sleep(for: .milliseconds(500))
            position -= 1
            positions.set(1, position: position)
            let early = ContinuousClock.now
            hub.update(eventID: "e", resolve: positions.resolver)
            let received = try await SSEHubTests.wait(connection, timeout: .seconds(3)) { $0.events.count == 5 }
            let elapsed = ContinuousClock.now - early
            #expect(received.events.last?.data?.contains("\"position\":\(position),") == true)
            #expect(elapsed >= .milliseconds(350))
            #expect(elapsed < .milliseconds(690), "sent \(elapsed) after the early tick")
            await connection.close()
        }
    }
}
