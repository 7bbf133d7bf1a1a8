import Redis
import Testing
import Waitroom

/// Thousands of random joins, leaves, polls, stream opens/closes, abandonments and admissions;
/// after every operation the edge's formula `order − F − D(F, order)` (F and D read back from
/// Redis: frontier and the departures stream) must equal the true rank (`ZRANK q` + 1) for a
/// sample of waiting places, and a reference model must agree with Redis on who waits.
@Suite struct QueueGroundTruthTests {
    /// The reference model: waiting orders with their last-seen time (9e15 while streamed).
    struct Model {
        var waiting: [Int: Int64] = [:]
        var seqOfOrder: [Int: Int] = [:]
        var connected: Set<Int> = []
        var edgeHeartbeat: Int64?
        var frontier = 0
    }

    @Test(arguments: [false, true])
    func formulaPositionEqualsTrueRank(lottery: Bool) async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID("groundTruth\(lottery ? "Lottery" : "")")
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let keys = QueueKeys(event: event)
        var rng = SplitMix64(seed: lottery ? 0xC0FFEE : 0xBADA55)
        let infinity: Int64 = 9_000_000_000_000_000
        let abandonAfter: Int64 = 30

        var clock = try await TestSupport.redisNow(client)
        try await store.configure(event: event, settings: QueueSettings(
            ratePerSecond: 1_000_000, maxActive: 0, sessionSeconds: 3600, abandonAfterSeconds: Int(abandonAfter),
            opensAtMilliseconds: lottery ? clock + 3_600_000 : 0
        ), now: clock)
        #expect(try await store.acquireLease(event: event, leaseID: "gt", ttlMilliseconds: 600_000))

        var model = Model()
        if lottery {
            let cohort = try await TestSupport.joinMany(store, event: event, count: 300, now: clock)
            #expect(cohort.allSatisfy { $0.order == nil })
            for seq in stride(from: 7, through: 300, by: 13) { try await store.leave(event: event, seq: seq) }
            guard case .opened(let n, _) = try await store.open(event: event, leaseID: "gt") else {
                Issue.record("lottery did not open"); return
            }
            #expect(n == 300)
            // The lottery sets last-seen to Redis time at opening; read it back.
            let seen = try await client.send("ZRANGE", RedisArgument(keys.seen), 0, -1, "WITHSCORES").array ?? []
            for i in stride(from: 0, to: seen.count, by: 2) {
                model.waiting[seen[i].int!] = Int64(seen[i + 1].int!)
            }
            for seq in 1...300 {
                if let state = try await store.state(event: event, seq: seq), let order = state.order {
                    model.seqOfOrder[order] = seq
                }
            }
            #expect(model.waiting.count == 300 - 23)
            clock = max(clock, model.waiting.values.max() ?? clock)
        }

        if !lottery {
            for joined in try await TestSupport.joinMany(store, event: event, count: 200, now: clock) {
                model.waiting[joined.seq] = clock
                model.seqOfOrder[joined.seq] = joined.seq
            }
        }
        var departed: [Int] = []      // sorted, from the departures stream
        var lastDepartureID: String?
        var checked = 0
        let operations = 2_500
        for step in 0..<operations {
            let roll = Int.random(in: 0..<100, using: &rng)
            let waitingOrders = model.waiting.keys.sorted()  // sorted: replayable from the seed
            switch roll {
            case 0..<45:
                let joined = try await store.join(event: event, now: clock)
                let order = try #require(joined.order)
                model.waiting[order] = clock
                model.seqOfOrder[order] = joined.seq
            case 45..<55 where !waitingOrders.isEmpty:
                let order = waitingOrders.randomElement(using: &rng)!
                #expect(try await store.leave(event: event, seq: model.seqOfOrder[order]!) == .waiting)
                model.waiting[order] = nil
                model.connected.remove(order)
            case 55..<65 where !waitingOrders.isEmpty:
                let order = waitingOrders.randomElement(using: &rng)!
                let state = try #require(try await store.touch(event: event, seq: model.seqOfOrder[order]!, now: clock))
                #expect(state.state == .waiting && state.order == order)
                if !model.connected.contains(order) { model.waiting[order] = clock }
            case 65..<71 where !waitingOrders.isEmpty:
                let order = waitingOrders.randomElement(using: &rng)!
                #expect(try await store.connect(event: event, order: order, edgeID: "edge-1", now: clock))
                model.connected.insert(order)
                model.waiting[order] = infinity
                model.edgeHeartbeat = clock
            case 71..<75 where !model.connected.isEmpty:
                let order = model.connected.sorted().randomElement(using: &rng)!
                #expect(try await store.disconnect(event: event, order: order, edgeID: "edge-1", now: clock))
                model.connected.remove(order)
                model.waiting[order] = clock
            case 75..<85:
                clock += Int64.random(in: 0...3_000, using: &rng)
                // The model of sweep: dead edge first (its streams closed at its last heartbeat), then abandonment.
                if let heartbeat = model.edgeHeartbeat, heartbeat <= clock - 10_000 {
                    for order in model.connected { model.waiting[order] = heartbeat }
                    model.connected = []
                    model.edgeHeartbeat = nil
                }
                let limit = clock - abandonAfter * 1000
                let stale = model.waiting.filter { $0.value < limit }.map(\.key)
                for order in stale { model.waiting[order] = nil }
                let swept = try await store.sweep(event: event, now: clock, batch: 100_000)
                #expect(swept.abandoned == stale.count, "step \(step)")
            default:
                let limit = Int.random(in: 1...3, using: &rng)
                guard case .ran(let result) = try await store.admit(event: event, leaseID: "gt", limit: limit) else {
                    Issue.record("admit did not run"); return
                }
                let admitted = model.waiting.keys.sorted().prefix(result.admitted)
                for order in admitted {
                    model.waiting[order] = nil
                    model.connected.remove(order)
                }
                if let last = admitted.last { model.frontier = max(model.frontier, last) }
                #expect(result.frontier == model.frontier, "step \(step)")
                #expect(result.waiting == model.waiting.count, "step \(step)")
            }

            // What an edge sees: F and the departures since its last read.
            let snapshot = try await store.snapshot(event: event, after: lastDepartureID)
            for departure in snapshot.departures {
                let index = departed.partitionPoint { $0 < departure.order }
                departed.insert(departure.order, at: index)
            }
            if let last = snapshot.departures.last { lastDepartureID = last.id }
            #expect(snapshot.frontier == model.frontier, "step \(step)")

            var sample = Array(model.waiting.keys.sorted().shuffled(using: &rng).prefix(8))
            if let lowest = model.waiting.keys.min() { sample.append(lowest) }
            if let highest = model.waiting.keys.max() { sample.append(highest) }
            guard !sample.isEmpty else { continue }
            let ranks = try await client.pipeline(sample.map { ["ZRANK", RedisArgument(keys.queue), RedisArgument($0)] })
            for (order, rank) in zip(sample, ranks) {
                let f = snapshot.frontier
                let d = departed.partitionPoint { $0 < order } - departed.partitionPoint { $0 <= f }
                let formula = order - f - d
                #expect(rank.int.map { $0 + 1 } == formula, "step \(step): order \(order) F \(f) D \(d)")
                checked += 1
            }
            if step % 250 == 0 {
                let inRedis = try await client.send("ZRANGE", RedisArgument(keys.queue), 0, -1).array?.compactMap(\.int) ?? []
                #expect(inRedis == model.waiting.keys.sorted(), "step \(step)")
            }
        }
        let stats = try await store.stats(event: event)
        #expect(stats.waiting == model.waiting.count)
        #expect(stats.frontier == model.frontier)
        #expect(checked > 10_000)
        print("ground truth (lottery: \(lottery)): \(operations) operations, \(checked) positions checked, "
            + "\(stats.joinsTotal) joins, \(stats.leftTotal) left, \(stats.abandonedTotal) abandoned, "
            + "\(stats.admittedTotal) admitted, \(stats.waiting) still waiting")
    }
}

extension Array {
    /// The first index whose element fails `belongs` (the array is partitioned by it).
    func partitionPoint(_ belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if belongs(self[mid]) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
