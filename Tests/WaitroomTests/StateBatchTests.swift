import NIOCore
import NIOPosix
import Redis
import Testing
@testable import Waitroom

/// Place states read in batches against Redis: one `states` call answers what a poll
/// (`touch`) answers for each of its seqs, and the batcher answers every waiter of a burst.
@Suite("State batches")
struct StateBatchTests {
    /// A client, its store and an event of the calling test's own with `places` joined.
    private func eventWithPlaces(_ places: Int, ratePerSecond: Double, _ name: String = #function) async throws
        -> (RedisClient, QueueStore, String) {
        let client = try await TestSupport.client()
        let store = QueueStore(client: client)
        let event = TestSupport.eventID(name)
        do {
            try await store.configure(event: event, settings: QueueSettings(ratePerSecond: ratePerSecond, maxActive: 0, sessionSeconds: 60))
            _ = try await TestSupport.joinMany(store, event: event, count: places)
        } catch {
            await TestSupport.cleanUp(event, client: client)
            await client.close()
            throw error
        }
        return (client, store, event)
    }

    @Test func aBatchAnswersWhatAPollAnswersForEachPlace() async throws {
        let (client, store, event) = try await eventWithPlaces(8, ratePerSecond: 1000)
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        #expect(try await store.leave(event: event, seq: 3) == .waiting)
        #expect(try await store.acquireLease(event: event, leaseID: "l", ttlMilliseconds: 10_000))
        _ = try await store.admit(event: event, leaseID: "l", limit: 2)
        try await Task.sleep(for: .milliseconds(20))
        _ = try await store.admit(event: event, leaseID: "l", limit: 2)

        // Admitted, left, waiting, unknown, and a seq twice.
        let seqs = [1, 2, 3, 4, 8, 99, 4, 5]
        let batch = try await store.stateBatch(event: event, seqs: seqs).get()
        #expect(batch.count == seqs.count)
        for (seq, state) in zip(seqs, batch) {
            #expect(state == (try await store.touch(event: event, seq: seq)), "seq \(seq)")
        }
        let admitted = try #require(batch[0])
        #expect(admitted.state == .admitted && admitted.position == nil)
        #expect(admitted.admissionExpiresAtMilliseconds ?? 0 > (try await TestSupport.redisNow(client)) + 55_000)
        #expect(batch[2]?.state == .left && batch[2]?.position == nil)
        #expect(batch[3]?.state == .waiting && batch[3]?.position == 1)     // 1, 2 admitted, 3 left
        #expect(batch[4]?.position == 5)
        #expect(batch[5] == nil)
        #expect(batch[6] == batch[3])
        #expect(batch.compactMap { $0 }.allSatisfy { !$0.soldOut })

        // The single read is the same call.
        #expect(try await store.state(event: event, seq: 5) == batch[7])

        #expect(try await store.markSoldOut(event: event))
        let afterSoldOut = try await store.stateBatch(event: event, seqs: [4, 99]).get()
        #expect(afterSoldOut[0]?.soldOut == true && afterSoldOut[0]?.position == 1)
        #expect(afterSoldOut[1] == nil)
    }

    @Test func theBatcherAnswersEveryStreamOfABurst() async throws {
        let (client, store, event) = try await eventWithPlaces(60, ratePerSecond: 1)
        defer { Task { await TestSupport.cleanUp(event, client: client); await client.close() } }
        // Batches of 16 at most: 70 reads in one tick take several calls, one after the other.
        let batcher = StateBatcher(store: store, maxBatch: 16)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let reads = try await loop.submit { () -> [EventLoopFuture<PlaceState?>] in
            (1...70).map { batcher.state(event: event, seq: $0, on: loop) }
        }.get()
        for (index, read) in reads.enumerated() {
            let seq = index + 1
            let state = try await read.get()
            if seq <= 60 {
                #expect(state?.seq == seq && state?.state == .waiting && state?.position == seq, "seq \(seq)")
            } else {
                #expect(state == nil, "seq \(seq)")
            }
        }
    }
}
