import Redis
import Testing
import Tokens
import Waitroom

/// The pre-queue lottery: cohort order = rank of SHA1(seed:seq), seed committed by its hash.
@Suite struct LotteryTests {
    @Test func cohortOrderIsTheSHA1RankOfSeedAndSeq() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }

        let now = try await TestSupport.redisNow(client)
        try await store.configure(event: event, settings: QueueSettings(
            ratePerSecond: 10, maxActive: 0, sessionSeconds: 60, opensAtMilliseconds: now + 3_600_000))
        let before = try await store.stats(event: event)
        let seedHash = try #require(before.seedHash)
        #expect(before.seed == nil && !before.isOpen)
        // A second configure keeps the committed seed.
        try await store.configure(event: event, settings: QueueSettings(
            ratePerSecond: 20, maxActive: 0, sessionSeconds: 60, opensAtMilliseconds: now + 3_600_000))
        #expect(try await store.stats(event: event).seedHash == seedHash)

        let cohort = try await TestSupport.joinMany(store, event: event, count: 500, userPrefix: "u-")
        #expect(cohort.map(\.seq) == Array(1...500))
        #expect(cohort.allSatisfy { $0.order == nil && $0.state == .waiting && $0.isNew })
        #expect(try await store.stats(event: event).preQueue == 500)

        #expect(try await store.acquireLease(event: event, leaseID: "opener", ttlMilliseconds: 10_000))
        guard case .opened(let n, let seed) = try await store.open(event: event, leaseID: "opener") else {
            Issue.record("did not open"); return
        }
        #expect(n == 500)
        #expect(Crypto.hex(Crypto.sha1(Array(seed.utf8))) == seedHash)
        #expect(try await store.open(event: event, leaseID: "opener") == .alreadyOpen)

        let ranked = (1...500).sorted {
            let a = Crypto.hex(Crypto.sha1(Array("\(seed):\($0)".utf8)))
            let b = Crypto.hex(Crypto.sha1(Array("\(seed):\($1)".utf8)))
            return a == b ? $0 < $1 : a < b
        }
        var expectedOrder: [Int: Int] = [:]
        for (index, seq) in ranked.enumerated() { expectedOrder[seq] = index + 1 }
        var orders: [Int] = []
        for seq in 1...500 {
            let state = try #require(try await store.state(event: event, seq: seq))
            #expect(state.order == expectedOrder[seq], "seq \(seq)")
            #expect(state.position == state.order)
            orders.append(state.order ?? 0)
        }
        #expect(orders.sorted() == Array(1...500))
        #expect(orders != Array(1...500))
        // A returning user learns the drawn order.
        let again = try await store.join(event: event, userId: "u-41")
        #expect(!again.isNew && again.order == expectedOrder[again.seq])

        let stats = try await store.stats(event: event)
        #expect(stats.isOpen && stats.seed == seed && stats.cohort == 500 && stats.preQueue == 0 && stats.waiting == 500)

        let late = try await store.join(event: event, userId: "late")
        #expect(late.seq == 501 && late.order == 501)
        #expect(try await store.state(event: event, seq: 501)?.position == 501)
    }

    @Test func controllerOpensTheLineAtOpensAtAndThenAdmitsInLotteryOrder() async throws {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID()
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        let now = try await TestSupport.redisNow(client)
        try await store.configure(event: event, settings: QueueSettings(
            ratePerSecond: 100, maxActive: 0, sessionSeconds: 60, opensAtMilliseconds: now + 2_000))
        _ = try await TestSupport.joinMany(store, event: event, count: 100)

        let controller = AdmissionController(store: store, configuration: .init(events: [event]), logger: TestSupport.logger)
        let task = Task { try await controller.run() }
        defer { task.cancel() }
        #expect(try await TestSupport.eventually(within: 6) { try await store.stats(event: event).admittedTotal >= 20 })
        let stats = try await store.stats(event: event)
        #expect(stats.isOpen && stats.cohort == 100)
        #expect(stats.lastTickMilliseconds >= now + 2_000)
        // Admitted are exactly the lowest orders, whatever their seqs.
        let admittedOrders = try await client.send("ZRANGE", RedisArgument(QueueKeys(event: event).active), 0, -1)
            .array?.compactMap(\.int).sorted() ?? []
        #expect(admittedOrders == Array(1...admittedOrders.count))
    }
}
