import Testing
@testable import Inventory

@Suite("Batching state machine") struct BatchingStateMachineTests {
    @Test func idleSubmitStartsABatchAtOnce() {
        var m = BatchingStateMachine<Int>(maxBatchSize: 3)
        #expect(m.isIdle)
        #expect(m.submit(1) == [1])
        #expect(m.isRunning)
        #expect(!m.isIdle)
    }

    @Test func whileRunningOperationsQueueAndGoTogetherInArrivalOrder() {
        var m = BatchingStateMachine<Int>(maxBatchSize: 3)
        _ = m.submit(0)
        for i in 1...5 { #expect(m.submit(i) == nil) }
        #expect(m.queued == 5)
        #expect(m.batchFinished() == [1, 2, 3])
        #expect(m.batchFinished() == [4, 5])
        #expect(m.batchFinished() == nil)
        #expect(m.isIdle)
        #expect(m.submit(6) == [6])
    }

    @Test func randomScheduleLosesNothingAndNeverRunsTwoBatches() {
        var rng = SystemRandomNumberGenerator()
        for size in [1, 2, 7, 64] {
            var m = BatchingStateMachine<Int>(maxBatchSize: size)
            var delivered: [Int] = []
            var next = 0
            var running = false
            for _ in 0..<2_000 {
                if Bool.random(using: &rng) || !running {
                    if let batch = m.submit(next) {
                        #expect(!running)
                        running = true
                        delivered += batch
                        #expect(batch.count <= size)
                    }
                    next += 1
                } else {
                    running = false
                    if let batch = m.batchFinished() {
                        running = true
                        delivered += batch
                        #expect(batch.count <= size)
                    }
                }
            }
            while running {
                running = false
                if let batch = m.batchFinished() { running = true; delivered += batch }
            }
            #expect(delivered == Array(0..<next))
            #expect(m.isIdle)
        }
    }
}

@Suite("Reservation items") struct ReservationItemTests {
    @Test func sortedIntoLockOrder() throws {
        let items = try ReservationItem.normalized([.init(ticketClassId: "vip", quantity: 1), .init(ticketClassId: "ga", quantity: 2)], limit: 8)
        #expect(items.map(\.ticketClassId) == ["ga", "vip"])
    }

    @Test(arguments: [
        ([ReservationItem](), "empty"),
        ([.init(ticketClassId: "ga", quantity: 0)], "at least 1"),
        ([.init(ticketClassId: "ga", quantity: -3)], "at least 1"),
        ([.init(ticketClassId: "ga", quantity: 1), .init(ticketClassId: "ga", quantity: 1)], "repeated"),
        ([.init(ticketClassId: "g a", quantity: 1)], "must match"),
        ([.init(ticketClassId: "ga", quantity: 9)], "at most 8"),
        ([.init(ticketClassId: "ga", quantity: Int.max), .init(ticketClassId: "vip", quantity: Int.max)], "at most 8"),
    ])
    func refused(_ items: [ReservationItem], _ fragment: String) {
        do {
            _ = try ReservationItem.normalized(items, limit: 8)
            Issue.record("accepted \(items)")
        } catch {
            #expect(error.code == .invalidItems)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }
}

@Suite("Lock set cache") struct LockSetCacheTests {
    @Test func boundedAndKeepsWhatIsUsed() {
        let cache = LockSetCache(capacity: 4)
        let set = { (i: Int) in InventoryBatcher.LockSet(eventID: "e", classIDs: ["c\(i)"]) }
        cache.insert("a", set(1))
        cache.insert("b", set(2))
        #expect(cache.get("a") == set(1))
        for i in 0..<10 { cache.insert("x\(i)", set(i)) }
        #expect(cache.count <= 4)
        #expect(cache.get("b") == nil)
        #expect(cache.get("x9") == set(9))
        #expect(cache.get("missing") == nil)
    }
    @Test func withTwoInFlightTheSecondBatchStartsWhileTheFirstRunsAndOrderHolds() {
        var m = BatchingStateMachine<Int>(maxBatchSize: 3, maxInFlight: 2)
        #expect(m.submit(0) == [0])
        #expect(m.submit(1) == [1])        // a second batch goes at once
        #expect(m.running == 2)
        for i in 2...6 { #expect(m.submit(i) == nil) }
        #expect(m.batchFinished() == [2, 3, 4])
        #expect(m.running == 2)
        #expect(m.batchFinished() == [5, 6])
        #expect(m.batchFinished() == nil)
        #expect(m.running == 1)
        #expect(m.batchFinished() == nil)
        #expect(m.isIdle)
    }

    @Test func randomScheduleWithTwoInFlightLosesNothingAndKeepsOrder() {
        var rng = SystemRandomNumberGenerator()
        for size in [1, 5, 64] {
            var m = BatchingStateMachine<Int>(maxBatchSize: size, maxInFlight: 2)
            var delivered: [Int] = []
            var next = 0
            var running = 0
            for _ in 0..<2_000 {
                if Bool.random(using: &rng) || running == 0 {
                    if let batch = m.submit(next) {
                        running += 1
                        delivered += batch
                    }
                    next += 1
                } else {
                    running -= 1
                    if let batch = m.batchFinished() {
                        running += 1
                        delivered += batch
                        #expect(batch.count <= size)
                    }
                }
                #expect(running <= 2 && running == m.running)
            }
            while running > 0 {
                running -= 1
                if let batch = m.batchFinished() {
                    running += 1
                    delivered += batch
                }
            }
            #expect(m.isIdle)
            #expect(delivered == Array(0..<next))
        }
    }
}
