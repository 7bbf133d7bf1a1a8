@testable import Edge
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Synchronization
import Testing

/// A hub and an edge server on one event loop of their own (a test may block it), serving
/// `/s/{key}` for event `e` from `positions`; torn down after `body`, also when it throws.
struct OwnLoopHub {
    let group: MultiThreadedEventLoopGroup
    let hub: SSEHub
    let server: EdgeServer
    let positions: TestPositions
    let registry: PrometheusCollectorRegistry

    var port: Int { self.server.port! }

    static func with(_ configuration: SSEHubConfiguration, _ body: (OwnLoopHub) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let registry = PrometheusCollectorRegistry()
        let hub = SSEHub(eventLoopGroup: group, configuration: configuration,
                         metricsFactory: PrometheusMetricsFactory(registry: registry))
        let positions = TestPositions()
        var router = Router()
        router.on(.GET, "/s/{key}", .sync { request, _ in
            let key = Int(request.pathParameters["key"] ?? "") ?? 0
            return hub.response(eventID: "e", key: key, initial: positions.resolver(key))
        })
        let server = EdgeServer(configuration: TestServer.configuration(), router: router,
                                eventLoopGroup: group, logger: TestServer.logger())
        try await server.start()
        let fixture = OwnLoopHub(group: group, hub: hub, server: server, positions: positions, registry: registry)
        var failure: (any Error)?
        do { try await body(fixture) } catch { failure = error }
        await server.shutdown()
        await hub.close()
        try await group.shutdownGracefully()
        if let failure { throw failure }
    }

    /// The Prometheus text of the hub's metrics.
    func metricsText() -> String {
        var bytes: [UInt8] = []
        self.registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite("SSE pacing under overload")
struct SSEPacingTests {
    static func pacing(minimum: TimeAmount = .seconds(1), maximum: TimeAmount = .seconds(5)) -> SSEPacing {
        var configuration = SSEHubConfiguration()
        configuration.minimumInterval = minimum
        configuration.maximumInterval = maximum
        configuration.overloadLag = .milliseconds(100)
        return SSEPacing(configuration: configuration)
    }

    @Test func aPunctualLoopKeepsTheMinimum() {
        var pacing = Self.pacing()
        for lag in [0, 3, 20, 60, 90, 0, 10] {
            let changed = pacing.observe(lag: .milliseconds(Int64(lag)))
            #expect(!changed)
        }
        #expect(pacing.interval == .seconds(1))
        #expect(!pacing.isShedding)
    }

    @Test func sustainedLagStretchesByAQuarterUpToTheMaximum() {
        var pacing = Self.pacing()
        var changed = pacing.observe(lag: .milliseconds(400))   // smoothed 200 ms
        #expect(changed)
        #expect(pacing.interval == .milliseconds(1250))
        changed = pacing.observe(lag: .milliseconds(400))
        #expect(changed)
        #expect(pacing.interval == .nanoseconds(1_562_500_000))
        for _ in 0..<20 { _ = pacing.observe(lag: .milliseconds(400)) }
        #expect(pacing.interval == .seconds(5))
        changed = pacing.observe(lag: .milliseconds(400))
        #expect(!changed)
        #expect(pacing.isShedding)
    }

    @Test func oneShortHiccupIsSmoothedAway() {
        var pacing = Self.pacing()
        // 150 ms once: smoothed 75 ms, under the 100 ms threshold.
        let changed = pacing.observe(lag: .milliseconds(150))
        #expect(!changed)
        #expect(pacing.interval == .seconds(1))
    }

    @Test func aPunctualLoopComesBackToTheMinimum() {
        var pacing = Self.pacing()
        for _ in 0..<30 { _ = pacing.observe(lag: .milliseconds(500)) }
        #expect(pacing.interval == .seconds(5))
        // Lag between a quarter of the threshold and the threshold: holds where it is.
        for _ in 0..<10 { _ = pacing.observe(lag: .milliseconds(60)) }
        #expect(pacing.interval == .seconds(5))
        var probes = 0
        while pacing.isShedding && probes < 100 {
            _ = pacing.observe(lag: .zero)
            probes += 1
        }
        #expect(pacing.interval == .seconds(1))
        // An eighth of the excess per probe, snapping within 5 %: about 30 probes (8 s at 250 ms).
        #expect(probes > 10 && probes < 40, "\(probes) probes")
    }

    /// Busy: the share of the last eight probes' wall time spent walking.
    @Test func walksTakingMostOfTheLoopStretchTheInterval() {
        var pacing = Self.pacing()
        // The first seven probes fill the window: no verdict on less than two seconds.
        for _ in 0..<(SSEPacing.window - 1) {
            let changed = pacing.observe(lag: .zero, busy: .milliseconds(200), elapsed: .milliseconds(250))
            #expect(!changed)
        }
        #expect(pacing.busyShare == 0)
        let changed = pacing.observe(lag: .zero, busy: .milliseconds(200), elapsed: .milliseconds(250))
        #expect(changed)
        #expect(abs(pacing.busyShare - 0.8) < 1e-9)
        #expect(pacing.interval == .milliseconds(1250))
        #expect(pacing.isShedding)
    }

    @Test func oneLongWalkIsAveragedOverTheSecond() {
        var pacing = Self.pacing()
        for _ in 0..<SSEPacing.window { _ = pacing.observe(lag: .zero, busy: .zero, elapsed: .milliseconds(250)) }
        // One walk of 600 ms without a break (a probe 850 ms after the last): 600 of 2,600 ms.
        let changed = pacing.observe(lag: .zero, busy: .milliseconds(600), elapsed: .milliseconds(850))
        #expect(!changed)
        #expect(abs(pacing.busyShare - 600.0 / 2600.0) < 1e-9)
        #expect(pacing.interval == .seconds(1))
    }

    @Test func theIntervalSettlesWhereTheLoadFits() {
        var pacing = Self.pacing()
        for _ in 0..<20 { _ = pacing.observe(lag: .zero, busy: .milliseconds(225), elapsed: .milliseconds(250)) }
        let stretched = pacing.interval
        #expect(stretched == .seconds(5))
        // Busy 0.5 at 5 s: a step back (to 4.5 s) would predict 0.56, over 85 % of 0.6: it holds.
        for _ in 0..<12 { _ = pacing.observe(lag: .zero, busy: .milliseconds(125), elapsed: .milliseconds(250)) }
        #expect(pacing.interval == stretched)
        // A load that shrinks in proportion to the interval (walks cost per value sent): it comes
        // back as far as the load fits, 0.4 busy at 1 s, and stays there.
        for _ in 0..<80 {
            let seconds = Double(pacing.interval.nanoseconds) / 1e9
            _ = pacing.observe(lag: .zero, busy: .nanoseconds(Int64(0.4 / seconds * 250_000_000)), elapsed: .milliseconds(250))
        }
        #expect(pacing.interval == .seconds(1))
        // The same with a load of 0.8 at 1 s: it settles between 0.8 / 0.6 and 0.8 / 0.51 s,
        // without swinging back under it.
        var seen: [TimeAmount] = []
        for probe in 0..<120 {
            let seconds = Double(pacing.interval.nanoseconds) / 1e9
            _ = pacing.observe(lag: .zero, busy: .nanoseconds(Int64(0.8 / seconds * 250_000_000)), elapsed: .milliseconds(250))
            if probe >= 60 { seen.append(pacing.interval) }
        }
        #expect(seen.allSatisfy { $0 >= .milliseconds(1333) && $0 <= .milliseconds(1700) }, "\(seen)")
        // Late timers hold it too, whatever the busy share.
        for _ in 0..<12 { _ = pacing.observe(lag: .zero, busy: .milliseconds(225), elapsed: .milliseconds(250)) }
        let again = pacing.interval
        for _ in 0..<8 { _ = pacing.observe(lag: .milliseconds(60), busy: .zero, elapsed: .milliseconds(250)) }
        #expect(pacing.interval == again)
    }

    @Test func aMaximumAtTheMinimumTurnsSheddingOff() {
        var pacing = Self.pacing(maximum: .seconds(1))
        for _ in 0..<10 {
            let changed = pacing.observe(lag: .seconds(2))
            #expect(!changed)
        }
        #expect(pacing.interval == .seconds(1))
    }

    /// A real hub on a loop of its own, which the test blocks: the loop sheds (the interval
    /// stretches, a stream gets its values further apart, the metric says so), then recovers.
    @Test func anOverloadedLoopShedsPositionValuesAndRecovers() async throws {
        var configuration = SSEHubConfiguration()
        configuration.lagProbeInterval = .milliseconds(50)
        try await OwnLoopHub.with(configuration) { fixture in
            let hub = fixture.hub, positions = fixture.positions
            let loop = fixture.group.next()
            positions.set(1, position: 1000)
            let connection = try await SSEHubTests.open(fixture.port, key: 1)
            try await SSEHubTests.wait(connection) { $0.events.count == 1 }
            #expect(await hub.stats().updateInterval == .seconds(1))

            // 2 s of a loop that is 150 ms late at every turn, while positions change every 50 ms.
            let start = ContinuousClock.now
            var value = 1000
            while ContinuousClock.now - start < .seconds(2) {
                value -= 1
                positions.set(1, position: value)
                hub.update(eventID: "e", resolve: positions.resolver)
                loop.execute { usleep(150_000) }
                try await Task.sleep(for: .milliseconds(50))
            }
            let stretched = await hub.stats().updateInterval
            #expect(stretched > .milliseconds(1500), "interval \(stretched)")
            let text = fixture.metricsText()
            #expect(text.contains("waitroom_sse_update_interval_seconds{loop=\"0\"}"))
            #expect(!text.contains("waitroom_sse_update_interval_seconds{loop=\"0\"} 1.0\n"))

            // The stream is paced at the stretched interval: no two values closer than it
            // (minus the early-tick window), even though the position keeps changing.
            let before = SSEHubTests.received(connection).events.count
            let paced = ContinuousClock.now
            while ContinuousClock.now - paced < .seconds(1) {
                value -= 1
                positions.set(1, position: value)
                hub.update(eventID: "e", resolve: positions.resolver)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(SSEHubTests.received(connection).events.count - before <= 1)

            // Punctual again: back to one value a second within seconds.
            let deadline = ContinuousClock.now + .seconds(15)
            while await hub.stats().updateInterval > .seconds(1), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await hub.stats().updateInterval == .seconds(1))
            await connection.close()
        }
    }

    /// Walks in slices keep the loop's timers punctual however long they take; the time they
    /// take is what shows overload. Resolving a stream here costs 25 ms, walks come every 250 ms
    /// and reach every stream (urgent keys): slices of one stream leave the lag small, and the
    /// busy share (about 0.8) stretches the interval; slow walks gone, it comes back.
    @Test func slicedWalksThatTakeMostOfTheLoopShedByBusyTime() async throws {
        var configuration = SSEHubConfiguration()
        configuration.lagProbeInterval = .milliseconds(50)
        configuration.walkSlice = 1
        try await OwnLoopHub.with(configuration) { fixture in
            let hub = fixture.hub, positions = fixture.positions
            let slow = Mutex(false)
            let resolver: SSEHub.Resolver = { key in
                if slow.withLock({ $0 }) { usleep(25_000) }
                return positions.resolver(key)
            }
            var connections: [TestConnection] = []
            for key in 1...8 {
                positions.set(key, position: 1000 + key)
                connections.append(try await SSEHubTests.open(fixture.port, key: key))
            }
            for connection in connections { try await SSEHubTests.wait(connection) { $0.events.count == 1 } }
            slow.withLock { $0 = true }
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(2) {
                hub.update(eventID: "e", urgentKeys: 0...100, resolve: resolver)
                try await Task.sleep(for: .milliseconds(250))
            }
            let stats = await hub.stats()
            #expect(stats.updateInterval > .milliseconds(1200), "interval \(stats.updateInterval)")
            #expect(stats.busyShare > 0.6, "busy \(stats.busyShare)")
            #expect(fixture.metricsText().contains("waitroom_sse_walk_busy_ratio{loop=\"0\"}"))

            slow.withLock { $0 = false }
            let deadline = ContinuousClock.now + .seconds(15)
            while await hub.stats().updateInterval > .seconds(1), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await hub.stats().updateInterval == .seconds(1))
            #expect(await hub.stats().busyShare < 0.3)
            for connection in connections { await connection.close() }
        }
    }
}
