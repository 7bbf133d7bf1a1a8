import Logging
import NIOCore
import NIOPosix
import Redis
import Testing
@testable import Waitroom

/// Stream presence against Redis: one script call applies a batch of connects and disconnects
/// in order, and the batcher keeps that order across calls.
@Suite("Presence batches")
struct PresenceBatchTests {
    private static let connected = 9_000_000_000_000_000.0

    private func seen(_ client: RedisClient, _ event: String, _ order: Int) async throws -> Double? {
        let reply = try await client.send("ZSCORE", RedisArgument(QueueKeys(event: event).prefix + "seen"), RedisArgument(order))
        return reply.string.flatMap(Double.init)
    }

    private func members(_ client: RedisClient, _ event: String, edge: String) async throws -> Set<String> {
        let reply = try await client.send("SMEMBERS", RedisArgument(QueueKeys(event: event).prefix + "edge:" + edge))
        return Set((reply.array ?? []).compactMap(\.string))
    }

    /// A client, its store and a configured event of the calling test's own.
    private func configuredEvent(_ name: String = #function) async throws -> (RedisClient, QueueStore, String) {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID(name)
        do {
            try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 1, maxActive: 0, sessionSeconds: 60))
        } catch {
            await client.close()
            throw error
        }
        return (client, store, event)
    }

    @Test func oneCallAppliesItsChangesInOrder() async throws {
        let (client, store, event) = try await configuredEvent()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let t: Int64 = 1_000_000_000
        for _ in 1...3 { _ = try await store.join(event: event, now: t) }
        let waiting = try await store.presenceBatch(
            event: event, edgeID: "e1",
            changes: [.connect(1), .disconnect(1), .disconnect(2), .connect(2), .connect(3), .connect(99)],
            now: t + 1_000
        ).get()
        #expect(waiting == [true, true, true, true, true, false])
        #expect(try await seen(client, event, 1) == Double(t + 1_000))   // closed last: abandonment counts from then
        #expect(try await seen(client, event, 2) == Self.connected)       // reopened last
        #expect(try await seen(client, event, 3) == Self.connected)
        #expect(try await members(client, event, edge: "e1") == ["2", "3"])
        // The one-change calls are the same script.
        #expect(try await store.disconnect(event: event, order: 3, edgeID: "e1", now: t + 2_000))
        #expect(try await seen(client, event, 3) == Double(t + 2_000))
        #expect(try await !store.connect(event: event, order: 99, edgeID: "e1", now: t + 2_000))
        #expect(try await members(client, event, edge: "e1") == ["2"])
    }

    @Test func theBatcherKeepsTheOrderOfABurstAcrossCalls() async throws {
        let (client, store, event) = try await configuredEvent()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        _ = try await TestSupport.joinMany(store, event: event, count: 40)
        // Batches of 8 at most: the burst below takes many calls, each after the one before.
        let batcher = PresenceBatcher(store: store, edgeID: "edge-b", logger: TestSupport.logger, maxBatch: 8)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let connects = try await loop.submit { () -> [EventLoopFuture<Bool>] in
            var futures: [EventLoopFuture<Bool>] = []
            for order in 1...40 { futures.append(batcher.connect(event: event, order: order, on: loop)) }
            // Every odd place closes; 1 and 3 open again at once, 5 closes for good.
            for order in stride(from: 1, through: 39, by: 2) { batcher.disconnect(event: event, order: order, on: loop) }
            futures.append(batcher.connect(event: event, order: 1, on: loop))
            futures.append(batcher.connect(event: event, order: 3, on: loop))
            futures.append(batcher.connect(event: event, order: 41, on: loop))   // no such place
            return futures
        }.get()
        var answers: [Bool] = []
        for future in connects { answers.append(try await future.get()) }
        #expect(answers == Array(repeating: true, count: 42) + [false])
        // The connects of 1 and 3 were answered after every disconnect before them was applied.
        for order in 1...40 {
            let expectConnected = order % 2 == 0 || order == 1 || order == 3
            let score = try await seen(client, event, order)
            #expect((score == Self.connected) == expectConnected, "order \(order): \(String(describing: score))")
        }
        let edge = try await members(client, event, edge: "edge-b")
        #expect(edge == Set((1...40).filter { $0 % 2 == 0 || $0 == 1 || $0 == 3 }.map(String.init)))
    }
}
