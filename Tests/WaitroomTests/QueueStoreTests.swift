import NIOPosix
import Redis
import Testing
import Waitroom

/// The store's operations one by one, against the shared Redis.
@Suite struct QueueStoreTests {
    static let settings = QueueSettings(ratePerSecond: 10, maxActive: 0, sessionSeconds: 60)

    @Test func joinIsIdempotentPerUserAndAnonymousJoinsAreNew() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        #expect(try await store.configure(event: event, settings: Self.settings))
        #expect(try await store.configure(event: event, settings: Self.settings) == false)
        #expect(try await store.events().contains(event))

        let first = try await store.join(event: event, userId: "u-1")
        #expect(first == JoinResult(seq: 1, order: 1, state: .waiting, isNew: true))
        let again = try await store.join(event: event, userId: "u-1")
        #expect(again == JoinResult(seq: 1, order: 1, state: .waiting, isNew: false))
        let anonymous1 = try await store.join(event: event)
        let anonymous2 = try await store.join(event: event)
        #expect(anonymous1.seq == 2 && anonymous2.seq == 3 && anonymous2.isNew)
        // Concurrent joins of one user make one place.
        let concurrent = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await store.join(event: event, userId: "u-2").seq } }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(concurrent.count == 1)
        // A user who left gets a new place at the back.
        try await store.leave(event: event, seq: 1)
        let back = try await store.join(event: event, userId: "u-1")
        #expect(back.isNew && back.seq == 5)
        let stats = try await store.stats(event: event)
        #expect(stats.joinsTotal == 5 && stats.waiting == 4 && stats.leftTotal == 1)
    }

    @Test func aBatchOfJoinsIsTheSameAsJoiningOneAfterTheOther() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        try await store.configure(event: event, settings: Self.settings)
        _ = try await store.join(event: event, userId: "old")
        let batch = try await store.joinBatch(event: event, userIds: ["a", nil, "old", "a", "b", nil, "b"]).get()
        #expect(batch == [
            JoinResult(seq: 2, order: 2, state: .waiting, isNew: true),
            JoinResult(seq: 3, order: 3, state: .waiting, isNew: true),
            JoinResult(seq: 1, order: 1, state: .waiting, isNew: false),
            JoinResult(seq: 2, order: 2, state: .waiting, isNew: false),
            JoinResult(seq: 4, order: 4, state: .waiting, isNew: true),
            JoinResult(seq: 5, order: 5, state: .waiting, isNew: true),
            JoinResult(seq: 4, order: 4, state: .waiting, isNew: false),
        ])
        try await store.leave(event: event, seq: 2)
        let again = try await store.joinBatch(event: event, userIds: ["a", "a"]).get()
        #expect(again == [JoinResult(seq: 6, order: 6, state: .waiting, isNew: true),
                          JoinResult(seq: 6, order: 6, state: .waiting, isNew: false)])
        let stats = try await store.stats(event: event)
        #expect(stats.joinsTotal == 6 && stats.waiting == 5 && stats.lastSeq == 6)
        #expect(try await store.state(event: event, seq: 5)?.position == 4)
    }

    @Test func theBatcherGathersConcurrentJoinsIntoFewCalls() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let batcher = JoinBatcher(store: store, maxBatch: 8)
        let events = [TestSupport.eventID() + "-a", TestSupport.eventID() + "-b"]
        defer { Task { for event in events { await TestSupport.cleanUp(event, client: client) }; await client.close() } }
        for event in events { try await store.configure(event: event, settings: Self.settings) }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        // Submitted from the event loop in one go: one tick, so batches of up to 8 per event.
        let futures = try await loop.submit {
            (0..<50).map { i in batcher.join(event: events[i % 2], userId: i % 5 == 0 ? nil : "u\(i % 20)", on: loop) }
        }.get()
        var results: [JoinResult] = []
        for future in futures { results.append(try await future.get()) }
        for (index, event) in events.enumerated() {
            let mine = results.enumerated().filter { $0.offset % 2 == index }.map(\.element)
            let users = (0..<50).filter { $0 % 2 == index }.map { $0 % 5 == 0 ? nil : "u\($0 % 20)" }
            // One place per user, anonymous joins always new, seqs dense.
            var seqOfUser: [String: Int] = [:]
            for (user, result) in zip(users, mine) {
                if let user {
                    if let seen = seqOfUser[user] { #expect(result.seq == seen && !result.isNew) } else {
                        seqOfUser[user] = result.seq
                        #expect(result.isNew)
                    }
                } else {
                    #expect(result.isNew)
                }
            }
            let fresh = mine.filter(\.isNew).map(\.seq).sorted()
            #expect(fresh == Array(1...fresh.count))
            #expect(try await store.stats(event: event).joinsTotal == fresh.count)
        }
        await #expect(throws: WaitroomError.self) {
            try await batcher.join(event: TestSupport.eventID() + "-none", userId: nil, on: loop).get()
        }
    }

    @Test func unknownEventAndSoldOutAreErrors() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        await #expect(throws: WaitroomError(.notConfigured, "event \(event) has no queue")) {
            try await store.join(event: event)
        }
        try await store.configure(event: event, settings: Self.settings)
        _ = try await store.join(event: event, userId: "early")
        let subscriber = client.makeSubscriber()
        let messages = try await subscriber.subscribe(to: [QueueKeys(event: event).channel])
        #expect(try await store.markSoldOut(event: event))
        #expect(try await store.markSoldOut(event: event) == false)
        await #expect(throws: WaitroomError(.soldOut, "event \(event) is sold out")) {
            try await store.join(event: event, userId: "late")
        }
        #expect(try await store.state(event: event, seq: 1)?.soldOut == true)
        // On a Redis Cluster a PUBLISH reaches the other nodes over the cluster bus, so the
        // `cfg` that `configure` published before we subscribed may still arrive first.
        var iterator = messages.makeAsyncIterator()
        var first = await iterator.next()?.payload.string
        if first == "cfg" { first = await iterator.next()?.payload.string }
        #expect(first == "soldout")
        await subscriber.close()
        await #expect(throws: WaitroomError.self) {
            try await store.configure(event: event, settings: QueueSettings(ratePerSecond: -1, maxActive: 0, sessionSeconds: 60))
        }
    }

    @Test func leaveMovesEveryoneBehindUpAndFreesAdmittedSlots() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 1000, maxActive: 0, sessionSeconds: 60))
        _ = try await TestSupport.joinMany(store, event: event, count: 10)
        for seq in 1...10 { #expect(try await store.state(event: event, seq: seq)?.position == seq) }

        #expect(try await store.leave(event: event, seq: 3) == .waiting)
        #expect(try await store.state(event: event, seq: 3)?.state == .left)
        #expect(try await store.leave(event: event, seq: 3) == .left)
        #expect(try await store.leave(event: event, seq: 99) == nil)
        for seq in 1...2 { #expect(try await store.state(event: event, seq: seq)?.position == seq) }
        for seq in 4...10 { #expect(try await store.state(event: event, seq: seq)?.position == seq - 1) }
        let snapshot = try await store.snapshot(event: event)
        #expect(snapshot.departures.map(\.order) == [3] && snapshot.departures.first?.reason == "l")
        #expect(try await store.snapshot(event: event, after: snapshot.departures[0].id).departures.isEmpty)

        // Admit two, then one of them finishes: its slot is freed.
        #expect(try await store.acquireLease(event: event, leaseID: "l", ttlMilliseconds: 10_000))
        _ = try await store.admit(event: event, leaseID: "l", limit: 2)
        try await Task.sleep(for: .milliseconds(20))
        _ = try await store.admit(event: event, leaseID: "l", limit: 2)
        let admitted = try #require(try await store.state(event: event, seq: 1))
        #expect(admitted.state == .admitted && admitted.position == nil)
        #expect(admitted.admissionExpiresAtMilliseconds ?? 0 > (try await TestSupport.redisNow(client)) + 55_000)
        #expect(try await store.stats(event: event).active == 2)
        #expect(try await store.leave(event: event, seq: 1) == .admitted)
        #expect(try await store.state(event: event, seq: 1)?.state == .done)
        #expect(try await store.stats(event: event).active == 1)
        #expect(try await store.state(event: event, seq: 4)?.position == 1)
    }

    @Test func abandonmentNeedsNoStreamAndNoPollAndDeadEdgesCloseTheirStreams() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 1, maxActive: 0, sessionSeconds: 60, abandonAfterSeconds: 30))
        let t: Int64 = 1_000_000_000
        for _ in 1...3 { _ = try await store.join(event: event, now: t) }
        #expect(try await store.connect(event: event, order: 2, edgeID: "e1", now: t))
        _ = try await store.touch(event: event, seq: 3, now: t + 20_000)
        try await store.heartbeat(event: event, edgeID: "e1", now: t + 25_000)
        #expect(try await store.sweep(event: event, now: t + 30_000).abandoned == 0)  // not strictly older
        #expect(try await store.sweep(event: event, now: t + 30_001).abandoned == 1)   // seq 1: no stream, no poll
        #expect(try await store.state(event: event, seq: 1)?.state == .abandoned)
        #expect(try await store.state(event: event, seq: 2)?.position == 1)
        try await store.heartbeat(event: event, edgeID: "e1", now: t + 45_000)
        #expect(try await store.sweep(event: event, now: t + 50_001).abandoned == 1)   // seq 3: last poll at +20 s
        // Edge e1 stops beating at +45 s: dead at +55 s, its stream counts as closed from +45 s.
        let dead = try await store.sweep(event: event, now: t + 55_000)
        #expect(dead.deadEdges == 1 && dead.streamsClosed == 1 && dead.abandoned == 0)
        #expect(try await store.sweep(event: event, now: t + 75_001).abandoned == 1)
        let reasons = try await store.snapshot(event: event).departures.map(\.reason)
        #expect(reasons == ["x", "x", "x"])
        #expect(try await store.stats(event: event).abandonedTotal == 3)
    }

    @Test func aLateTickKeepsWhatItsDelayEarned() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        try await store.configure(event: event, settings: QueueSettings(ratePerSecond: 20, maxActive: 0, sessionSeconds: 60))
        _ = try await TestSupport.joinMany(store, event: event, count: 100)
        #expect(try await store.acquireLease(event: event, leaseID: "late", ttlMilliseconds: 30_000))
        _ = try await store.admit(event: event, leaseID: "late")  // starts the bucket's clock
        // The leader stalls for 0.7 s: that tick admits the 14 places the time earned, not the ¼ s
        // burst cap (5), and never more than 1 s worth (20).
        try await Task.sleep(for: .milliseconds(700))
        guard case .ran(let late) = try await store.admit(event: event, leaseID: "late") else {
            Issue.record("admit refused"); return
        }
        #expect((13...20).contains(late.admitted), "late tick admitted \(late.admitted)")
        try await Task.sleep(for: .seconds(3))
        guard case .ran(let later) = try await store.admit(event: event, leaseID: "late") else {
            Issue.record("admit refused"); return
        }
        #expect(later.admitted == 20, "a 3 s stall catches up 1 s at most: \(later.admitted)")
    }

    @Test func pauseStopsAdmissionsAndResumeContinuesWithoutABurst() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        // Subscribed before the first change: in a Redis Cluster a PUBLISH reaches the other
        // masters over the cluster bus, later, so a subscription made just after a change on
        // another master may or may not see it (CI once saw the first "cfg" that way).
        let subscriber = client.makeSubscriber()
        let messages = try await subscriber.subscribe(to: [QueueKeys(event: event).channel])
        var settings = QueueSettings(ratePerSecond: 20, maxActive: 0, sessionSeconds: 60)
        try await store.configure(event: event, settings: settings)
        _ = try await TestSupport.joinMany(store, event: event, count: 300)
        #expect(try await store.acquireLease(event: event, leaseID: "p", ttlMilliseconds: 30_000))

        func admitFor(_ duration: Duration) async throws -> Int {
            var total = 0
            let end = ContinuousClock.now + duration
            while ContinuousClock.now < end {
                if case .ran(let result) = try await store.admit(event: event, leaseID: "p") { total += result.admitted }
                try await Task.sleep(for: .milliseconds(100))
            }
            return total
        }
        let running = try await admitFor(.seconds(1))
        #expect((12...26).contains(running), "admitted \(running) in 1 s at 20/s")

        settings.paused = true
        try await store.configure(event: event, settings: settings)
        #expect(try await admitFor(.seconds(1.5)) == 0)

        settings.paused = false
        try await store.configure(event: event, settings: settings)
        guard case .ran(let first) = try await store.admit(event: event, leaseID: "p") else {
            Issue.record("admit refused"); return
        }
        #expect(first.admitted <= 5, "burst after resume: \(first.admitted)")  // cap = rate / 4
        let resumed = first.admitted + (try await admitFor(.seconds(1)))
        #expect((12...26).contains(resumed), "admitted \(resumed) in the first second after resume")

        var seen: [String] = []
        var iterator = messages.makeAsyncIterator()
        while seen.filter({ $0 == "paused" || $0 == "resumed" }).count < 2, let message = await iterator.next() {
            if let text = message.payload.string, !text.hasPrefix("tick") { seen.append(text) }
        }
        #expect(seen == ["cfg", "cfg", "paused", "cfg", "resumed"])
        await subscriber.close()
    }
}
