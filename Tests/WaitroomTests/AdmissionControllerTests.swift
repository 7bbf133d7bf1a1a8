import Foundation
import NIOPosix
import Redis
import Synchronization
import Testing
import Waitroom

/// Controllers on separate Redis clients (as close to separate processes as a unit test gets).
@Suite struct AdmissionControllerTests {
    /// A controller on its own client, running in its own task.
    struct Running {
        let client: RedisClient
        let controller: AdmissionController
        let task: Task<Void, any Error>

        static func start(event: String, configuration: AdmissionControllerConfiguration, id: String) async throws -> Running {
            let client = try await TestSupport.client()
            let controller = AdmissionController(
                store: QueueStore(client: client), configuration: configuration, logger: TestSupport.logger, leaseID: id)
            let task = Task { try await controller.run() }
            return Running(client: client, controller: controller, task: task)
        }

        func stop() async {
            task.cancel()
            _ = try? await task.value
            await client.close()
        }
    }

    @Test func fourControllersAdmitEveryOrderExactlyOnceAcrossAHandover() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let keys = QueueKeys(event: event)
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 600, maxActive: 0, sessionSeconds: 600))
        _ = try await TestSupport.joinMany(store, event: event, count: 2_000)

        let subscriber = client.makeSubscriber()
        let messages = try await subscriber.subscribe(to: [keys.channel])
        let ticks = Mutex<[(frontier: Int, count: Int)]>([])
        let listener = Task {
            for await message in messages {
                let parts = (message.payload.string ?? "").split(separator: " ")
                if parts.first == "tick", parts.count == 4, let f = Int(parts[1]), let k = Int(parts[3]) {
                    ticks.withLock { $0.append((f, k)) }
                }
            }
        }

        let configuration = AdmissionControllerConfiguration(
            leaseTTL: .seconds(1), acquireInterval: .milliseconds(50), releaseLeasesOnShutdown: false, events: [event])
        var controllers: [Running] = []
        for i in 0..<4 { controllers.append(try await Running.start(event: event, configuration: configuration, id: "c\(i)")) }

        // Kill the leader mid-run (no release: as a crash); another takes over after the TTL.
        #expect(try await TestSupport.eventually(within: 5) { try await store.stats(event: event).admittedTotal >= 500 })
        let leader = try await client.send("GET", RedisArgument(keys.lease)).string
        let killed = try #require(controllers.firstIndex { $0.controller.leaseID == leader })
        await controllers[killed].stop()
        #expect(try await TestSupport.eventually(within: 10) { try await store.stats(event: event).waiting == 0 })
        let successor = try await client.send("GET", RedisArgument(keys.lease)).string
        #expect(successor != nil && successor != leader)
        for (i, running) in controllers.enumerated() where i != killed { await running.stop() }
        try await Task.sleep(for: .milliseconds(200))
        listener.cancel()
        await subscriber.close()

        let stats = try await store.stats(event: event)
        #expect(stats.admittedTotal == 2_000 && stats.active == 2_000 && stats.frontier == 2_000)
        let active = try await client.send("ZRANGE", RedisArgument(keys.active), 0, -1).array?.compactMap(\.int) ?? []
        #expect(active.sorted() == Array(1...2_000))
        let states = try await client.pipeline((1...2_000).map { ["HGET", RedisArgument(keys.state), RedisArgument($0)] })
        #expect(states.allSatisfy { $0.string == "a" })
        // The published ticks: contiguous frontier steps that add up to everyone, once.
        let published = ticks.withLock { $0 }
        var previous = 0
        for tick in published {
            #expect(tick.frontier == previous + tick.count, "tick \(tick) after F=\(previous)")
            previous = tick.frontier
        }
        #expect(published.reduce(0) { $0 + $1.count } == 2_000)
        print("no double admission: \(published.count) ticks, leader \(leader ?? "-") killed, successor \(successor ?? "-")")
    }

    @Test func killedLeaderIsReplacedWithinTheLeaseTTLAndAStaleLeaderIsFenced() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let keys = QueueKeys(event: event)
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 5, maxActive: 0, sessionSeconds: 600))
        _ = try await TestSupport.joinMany(store, event: event, count: 100)
        let configuration = AdmissionControllerConfiguration(releaseLeasesOnShutdown: false, events: [event])
        let a = try await Running.start(event: event, configuration: configuration, id: "a")
        #expect(try await TestSupport.eventually(within: 2) { try await client.send("GET", RedisArgument(keys.lease)).string == "a" })
        let b = try await Running.start(event: event, configuration: configuration, id: "b")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await client.send("GET", RedisArgument(keys.lease)).string == "a")

        let killedAt = ContinuousClock.now
        await a.stop()
        #expect(try await TestSupport.eventually(within: 5) { try await client.send("GET", RedisArgument(keys.lease)).string == "b" })
        let takeover = ContinuousClock.now - killedAt
        #expect(takeover < .milliseconds(3_500), "takeover took \(takeover)")
        let admittedAtTakeover = try await store.stats(event: event).admittedTotal
        #expect(try await TestSupport.eventually(within: 2) { try await store.stats(event: event).admittedTotal > admittedAtTakeover })
        await b.stop()
        print("lease takeover after killing the leader: \(takeover)")

        // The stale leader "a" wakes up: every fenced operation refuses it.
        #expect(try await store.admit(event: event, leaseID: "a") == .fenced)
        #expect(try await store.renewLease(event: event, leaseID: "a", ttlMilliseconds: 3_000) == false)
        #expect(try await store.acquireLease(event: event, leaseID: "a", ttlMilliseconds: 3_000) == false)
        #expect(try await store.open(event: event, leaseID: "a") == .fenced)
        #expect(try await store.releaseLease(event: event, leaseID: "a") == false)
        #expect(try await client.send("GET", RedisArgument(keys.lease)).string == "b")
    }

    @Test func gracefulStopReleasesTheLeaseForAnImmediateTakeover() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let keys = QueueKeys(event: event)
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 5, maxActive: 0, sessionSeconds: 600))
        let configuration = AdmissionControllerConfiguration(events: [event])
        let a = try await Running.start(event: event, configuration: configuration, id: "a")
        #expect(try await TestSupport.eventually(within: 2) { try await client.send("GET", RedisArgument(keys.lease)).string == "a" })
        let b = try await Running.start(event: event, configuration: configuration, id: "b")
        await a.stop()
        #expect(try await TestSupport.eventually(within: 1) { try await client.send("GET", RedisArgument(keys.lease)).string == "b" })
        await b.stop()
    }

    @Test func maxActiveIsNeverExceededAndExpiredAdmissionsFreeSlots() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let keys = QueueKeys(event: event)
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 1_000, maxActive: 20, sessionSeconds: 1))
        _ = try await TestSupport.joinMany(store, event: event, count: 300)
        let controller = try await Running.start(event: event, configuration: .init(events: [event]), id: "m")
        var maximum = 0
        var samples = 0
        let end = ContinuousClock.now + .seconds(3.5)
        while ContinuousClock.now < end {
            let active = try await client.send("ZCARD", RedisArgument(keys.active)).int ?? 0
            maximum = max(maximum, active)
            samples += 1
            try await Task.sleep(for: .milliseconds(10))
        }
        await controller.stop()
        let stats = try await store.stats(event: event)
        #expect(maximum == 20, "max active \(maximum) over \(samples) samples")
        #expect(stats.expiredTotal >= 40, "expired \(stats.expiredTotal)")
        #expect(stats.admittedTotal >= 60 && stats.admittedTotal <= 100, "admitted \(stats.admittedTotal)")
        #expect(try await store.state(event: event, seq: 1)?.state == .expired)
        print("maxActive 20: max observed \(maximum) over \(samples) samples; admitted \(stats.admittedTotal), expired \(stats.expiredTotal)")
    }

    /// Slow (30 s): rate accuracy of the token bucket driven by a real controller.
    @Test func slowRateOf50PerSecondFor30SecondsAdmits1500Within2Percent() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 50, maxActive: 0, sessionSeconds: 600))
        _ = try await TestSupport.joinMany(store, event: event, count: 2_500)
        let controller = try await Running.start(event: event, configuration: .init(events: [event]), id: "r")
        #expect(try await TestSupport.eventually(within: 3) { try await store.stats(event: event).admittedTotal > 0 })
        let c0 = try await store.stats(event: event).admittedTotal
        let t0 = try await TestSupport.redisNow(client)
        try await Task.sleep(for: .seconds(30))
        let c1 = try await store.stats(event: event).admittedTotal
        let t1 = try await TestSupport.redisNow(client)
        await controller.stop()
        let admitted = c1 - c0
        let seconds = Double(t1 - t0) / 1000
        print("rate 50/s: admitted \(admitted) in \(seconds) s (\(Double(admitted) / seconds)/s); error vs 1500: \(Double(admitted - 1500) / 15)%")
        #expect(abs(admitted - 1_500) <= 30, "admitted \(admitted) in \(seconds) s")
    }

    /// The server's loops are saturated (here: blocked 1.5 s at a time). An admitter whose Redis
    /// client shares them gets a reply once per block and keeps at most 1 s of tokens per tick,
    /// so it falls to about two thirds of the rate; one on a loop and connection of its own
    /// (``EventLoopTaskExecutor``, as the worker runs it) keeps the rate.
    @Test func anAdmitterOnItsOwnLoopKeepsTheRateWhileTheServersLoopsAreBlocked() async throws {
        let shared = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let own = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let observer = try await TestSupport.client()
        let configuration = try RedisConfiguration(url: TestSupport.redisURL)
        defer {
            Task {
                await observer.close()
                try? await shared.shutdownGracefully()
                try? await own.shutdownGracefully()
            }
        }

        func admitted(isolated: Bool) async throws -> Double {
            let event = TestSupport.eventID()
            let store = QueueStore(client: observer)
            try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 50, maxActive: 0, sessionSeconds: 600))
            _ = try await TestSupport.joinMany(store, event: event, count: 1_000)
            let client = RedisClient(configuration: configuration, eventLoopGroup: isolated ? own : shared, logger: TestSupport.logger)
            let controller = AdmissionController(
                store: QueueStore(client: client),
                configuration: AdmissionControllerConfiguration(releaseLeasesOnShutdown: false, events: [event]),
                logger: TestSupport.logger, leaseID: "blocked-\(isolated)",
                executor: isolated ? EventLoopTaskExecutor(eventLoop: own.next()) : nil)
            let task = Task { try await controller.run() }
            #expect(try await TestSupport.eventually(within: 5) { try await store.stats(event: event).admittedTotal > 0 })
            let start = try await store.stats(event: event).admittedTotal
            let began = ContinuousClock.now
            let loop = shared.next()
            for _ in 0..<3 { loop.execute { usleep(1_500_000) } }
            try await Task.sleep(for: .milliseconds(4_500))
            let end = try await store.stats(event: event).admittedTotal
            let seconds = Double((ContinuousClock.now - began).components.attoseconds) / 1e18
                + Double((ContinuousClock.now - began).components.seconds)
            task.cancel()
            _ = try? await task.value
            await client.close()
            await TestSupport.cleanUp(event, client: observer)
            return Double(end - start) / seconds / 50
        }

        let isolated = try await admitted(isolated: true)
        let sharedRate = try await admitted(isolated: false)
        #expect(isolated > 0.93 && isolated < 1.07, "own loop: \(isolated) of the rate")
        #expect(sharedRate < 0.85, "shared, blocked loop: \(sharedRate) of the rate")
    }
}
