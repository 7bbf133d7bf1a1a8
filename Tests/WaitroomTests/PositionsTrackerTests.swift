import Foundation
import Logging
import NIOCore
import NIOPosix
import Redis
import Synchronization
import Testing
import Waitroom

/// Collects a tracker's updates for assertions.
final class UpdateLog: Sendable {
    private let updates = Mutex<[EventTrackerUpdate]>([])

    func append(_ update: EventTrackerUpdate) { self.updates.withLock { $0.append(update) } }

    var all: [EventTrackerUpdate] { self.updates.withLock { $0 } }

    /// Waits until some update satisfies `predicate`.
    func wait(timeout: Duration = .seconds(5), _ predicate: (EventTrackerUpdate) -> Bool) async throws -> EventTrackerUpdate {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = self.all.first(where: predicate) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw PositionsTestFailure(description: "no matching tracker update within \(timeout)")
    }
}

struct PositionsTestFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs against the shared Redis (`WAITROOM_REDIS_URL`, default `redis://127.0.0.1:6391`); never skips.
@Suite("Positions: EventTracker against Redis")
struct PositionsTrackerTests {
    static var redisURL: String {
        ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] ?? "redis://127.0.0.1:6391"
    }

    static func logger() -> Logger {
        var logger = Logger(label: "positions-tests")
        logger.logLevel = .critical
        return logger
    }

    /// A client, a unique event id, and a running tracker of it; cleans up the event's keys.
    static func withTracker(
        configuration: EventTrackerConfiguration = EventTrackerConfiguration(),
        setUp: (RedisClient, String) async throws -> Void,
        _ body: (RedisClient, String, EventTracker, UpdateLog) async throws -> Void
    ) async throws {
        let client = RedisClient(configuration: try RedisConfiguration(url: redisURL),
                                 eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger())
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw PositionsTestFailure(description: "Redis at \(redisURL) is unreachable (\(error)); start it or set WAITROOM_REDIS_URL")
        }
        let eventID = "pt-\(UUID().uuidString.prefix(8))"
        try await setUp(client, eventID)
        let log = UpdateLog()
        let tracker = EventTracker(eventID: eventID, redis: client, configuration: configuration, logger: logger()) { log.append($0) }
        let task = Task { try await tracker.run() }
        var failure: (any Error)?
        do {
            try await body(client, eventID, tracker, log)
        } catch {
            failure = error
        }
        task.cancel()
        _ = try? await task.value
        let keys = ["frontier", "dep", "cfg", "seq", "q"].map { RedisArgument("wr:{\(eventID)}:\($0)") }
        _ = try? await client.send([RedisArgument("DEL")] + keys)
        await client.close()
        if let failure { throw failure }
    }

    /// `count` places that joined with `order = seq`, all waiting, and a configured rate.
    static func join(_ client: RedisClient, _ eventID: String, count: Int, rate: Int = 10) async throws {
        let k = "wr:{\(eventID)}:"
        var zadd: [RedisArgument] = ["ZADD", RedisArgument(k + "q")]
        for order in 1...count { zadd += [RedisArgument(order), RedisArgument(order)] }
        _ = try await client.pipeline([
            zadd,
            ["SET", RedisArgument(k + "seq"), RedisArgument(count)],
            ["HSET", RedisArgument(k + "cfg"), "rate", RedisArgument(rate), "sessionSeconds", "60", "paused", "0", "opensAt", "0"],
        ])
    }

    /// A place leaves: `ZREM q`, `XADD dep o=<order> r=l` (as the leave script does).
    static func leave(_ client: RedisClient, _ eventID: String, order: Int) async throws {
        let k = "wr:{\(eventID)}:"
        _ = try await client.pipeline([
            ["ZREM", RedisArgument(k + "q"), RedisArgument(order)],
            ["XADD", RedisArgument(k + "dep"), "*", "o", RedisArgument(order), "r", "l"],
        ])
    }

    /// Admits the `count` lowest waiting places and publishes the tick (as the admit script does).
    static func admit(_ client: RedisClient, _ eventID: String, count: Int, atMs: Int64 = 1_700_000_000_000) async throws -> Int {
        let k = "wr:{\(eventID)}:"
        let popped = try await client.send("ZPOPMIN", RedisArgument(k + "q"), RedisArgument(count)).array ?? []
        let orders = stride(from: 0, to: popped.count, by: 2).compactMap { popped[$0].int }
        let frontier = orders.max() ?? 0
        _ = try await client.send("SET", RedisArgument(k + "frontier"), RedisArgument(frontier))
        try await client.publish(channel: k + "ev", message: RedisArgument("tick \(frontier) \(atMs) \(orders.count)"))
        return frontier
    }

    @Test func loadsPositionsAndFollowsDeparturesAndTicks() async throws {
        // No periodic refresh here: the admission time must come from the tick message alone
        // (a refresh racing the tick would take the snapshot's time instead).
        try await Self.withTracker(configuration: EventTrackerConfiguration(refreshInterval: .seconds(60)), setUp: { client, eventID in
            try await Self.join(client, eventID, count: 10)
        }) { client, eventID, tracker, log in
            try await tracker.refreshNow()
            #expect(tracker.isLoaded)
            #expect(tracker.status(order: 3) == .waiting(position: 3, etaSeconds: 1))
            #expect(tracker.status(order: 10) == .waiting(position: 10, etaSeconds: 1))

            try await Self.leave(client, eventID, order: 2)
            try await tracker.refreshNow()
            #expect(tracker.status(order: 2) == .departed)
            #expect(tracker.status(order: 3) == .waiting(position: 2, etaSeconds: 1))

            // A tick published on the channel alone triggers a snapshot.
            let frontier = try await Self.admit(client, eventID, count: 3, atMs: 1_700_000_000_000)
            #expect(frontier == 4)
            let update = try await log.wait { $0.frontier == 4 }
            #expect(update.newlyAdmitted?.contains(4) == true)
            // A snapshot started before the tick message was read (the leave's departure wakes
            // the tracker too) can see frontier 4 first and note its own time; the tick, read
            // next, replaces that with the admission's time. Wait for it, boundedly.
            let tickTimeSeen = try await TestSupport.eventually(within: 5) {
                tracker.status(order: 4) == .admitted(expiresAtMs: 1_700_000_060_000)
            }
            #expect(tickTimeSeen, "order 4: \(tracker.status(order: 4))")
            #expect(tracker.status(order: 1) == .admitted(expiresAtMs: 1_700_000_060_000))
            #expect(tracker.status(order: 2) == .departed)
            #expect(tracker.status(order: 5) == .waiting(position: 1, etaSeconds: 1))
            #expect(tracker.status(order: 10) == .waiting(position: 6, etaSeconds: 1))
        }
    }

    @Test func refreshesAtLeastOnceASecondWithoutMessages() async throws {
        try await Self.withTracker(setUp: { client, eventID in
            try await Self.join(client, eventID, count: 5)
        }) { client, eventID, tracker, log in
            try await tracker.refreshNow()
            // Change Redis without publishing: the periodic refresh must notice.
            _ = try await client.send("SET", RedisArgument("wr:{\(eventID)}:frontier"), 2)
            _ = try await client.send("ZREM", RedisArgument("wr:{\(eventID)}:q"), 1, 2)
            let update = try await log.wait(timeout: .seconds(3)) { $0.frontier == 2 }
            #expect(update.previousFrontier == 0)
            #expect(tracker.status(order: 3) == .waiting(position: 1, etaSeconds: 1))
        }
    }

    @Test func readsLargeDepartureBacklogsInBatches() async throws {
        try await Self.withTracker(configuration: EventTrackerConfiguration(departuresBatch: 3), setUp: { client, eventID in
            try await Self.join(client, eventID, count: 30)
        }) { client, eventID, tracker, log in
            try await tracker.refreshNow()
            for order in stride(from: 2, through: 20, by: 2) {
                try await Self.leave(client, eventID, order: order)
            }
            let before = log.all.count
            try await tracker.refreshNow()
            // One report after all batches: 10 departures, batch 3.
            #expect(log.all.count >= before + 1)
            #expect(tracker.status(order: 21) == .waiting(position: 11, etaSeconds: 2))
            #expect(tracker.status(order: 19) == .waiting(position: 10, etaSeconds: 1))
        }
    }

    @Test func rebuildsFromTheWaitingSetWhenDeparturesWereTrimmed() async throws {
        try await Self.withTracker(setUp: { client, eventID in
            try await Self.join(client, eventID, count: 20)
            try await Self.leave(client, eventID, order: 1)
        }) { client, eventID, tracker, _ in
            try await tracker.refreshNow()
            #expect(tracker.status(order: 5) == .waiting(position: 4, etaSeconds: 1))
            // More departures, then the stream is trimmed past the tracker's cursor.
            for order in [3, 6, 9] { try await Self.leave(client, eventID, order: order) }
            _ = try await client.send("XTRIM", RedisArgument("wr:{\(eventID)}:dep"), "MAXLEN", 1)
            try await tracker.refreshNow()
            #expect(tracker.status(order: 3) == .departed)
            #expect(tracker.status(order: 6) == .departed)
            #expect(tracker.status(order: 10) == .waiting(position: 6, etaSeconds: 1))
            // And it continues incrementally afterwards.
            try await Self.leave(client, eventID, order: 10)
            try await tracker.refreshNow()
            #expect(tracker.status(order: 11) == .waiting(position: 6, etaSeconds: 1))
        }
    }

    @Test func reportsPauseResumeAndSoldOutEdges() async throws {
        try await Self.withTracker(setUp: { client, eventID in
            try await Self.join(client, eventID, count: 3)
        }) { client, eventID, tracker, log in
            try await tracker.refreshNow()
            let cfg = RedisArgument("wr:{\(eventID)}:cfg")
            let channel = "wr:{\(eventID)}:ev"
            _ = try await client.send("HSET", cfg, "paused", "1")
            try await client.publish(channel: channel, message: "paused")
            _ = try await log.wait { $0.changes.contains(.paused) }
            #expect(tracker.settings.paused)
            _ = try await client.send("HSET", cfg, "paused", "0")
            try await client.publish(channel: channel, message: "resumed")
            _ = try await log.wait { $0.changes.contains(.resumed) }
            _ = try await client.send("HSET", cfg, "soldOut", "1", "rate", "7")
            try await client.publish(channel: channel, message: "soldout")
            let soldOut = try await log.wait { $0.changes.contains(.soldOut) }
            #expect(soldOut.settings.soldOut)
            #expect(soldOut.settings.ratePerSecond == 7)
            #expect(log.all.filter { $0.changes.contains(.paused) }.count == 1)
        }
    }

    @Test func beforeOpeningNoOrdersExistAndTheLotteryKeepsPositionsExact() async throws {
        try await Self.withTracker(setUp: { client, eventID in
            let k = "wr:{\(eventID)}:"
            _ = try await client.pipeline([
                ["SET", RedisArgument(k + "seq"), 4],
                ["HSET", RedisArgument(k + "cfg"), "rate", "2", "opensAt", "9999999999999"],
            ])
        }) { client, eventID, tracker, log in
            try await tracker.refreshNow()
            #expect(tracker.status(order: 1) == .waiting(position: 1, etaSeconds: 1))
            // The lottery ran: orders 1…4 waiting, one later join (order 5), then 2 left.
            let k = "wr:{\(eventID)}:"
            _ = try await client.pipeline([
                ["ZADD", RedisArgument(k + "q"), 1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
                ["SET", RedisArgument(k + "seq"), 5],
                ["HSET", RedisArgument(k + "cfg"), "cohort", "4"],
            ])
            try await client.publish(channel: k + "ev", message: "open 4 s33d")
            try await Self.leave(client, eventID, order: 2)
            try await tracker.refreshNow()
            #expect(tracker.status(order: 5) == .waiting(position: 4, etaSeconds: 2))
            #expect(log.all.last?.changes.contains(.settings) == true || log.all.contains { $0.changes.contains(.settings) })
        }
    }
}
