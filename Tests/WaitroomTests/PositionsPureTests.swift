import Redis
import Testing
@testable import Waitroom

/// A tiny deterministic generator so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Positions: pure")
struct PositionsPureTests {
    @Test func fenwickMatchesBruteForceWhileGrowing() {
        var random = SplitMix(state: 7)
        var tree = FenwickTree()
        var model: [Int: Int] = [:]
        for step in 0..<3000 {
            let index = Int.random(in: 1...(1 + step), using: &random)
            let delta = Int32.random(in: -2...3, using: &random)
            tree.add(delta, at: index)
            model[index, default: 0] += Int(delta)
            if step % 37 == 0 {
                for probe in stride(from: 0, through: step + 40, by: 7) {
                    let expected = model.filter { $0.key <= probe }.values.reduce(0, +)
                    #expect(tree.prefixSum(through: probe) == expected)
                }
            }
        }
        #expect((tree.capacity & (tree.capacity - 1)) == 0)
    }

    @Test func fenwickBuiltFromCountsEqualsIncremental() {
        var random = SplitMix(state: 11)
        for size in [0, 1, 2, 3, 5, 8, 13, 64, 100] {
            let counts = (0..<size).map { _ in Int32.random(in: 0...1, using: &random) }
            let built = FenwickTree(counts: counts)
            for index in 0...(size + 2) {
                let expected = counts.prefix(max(0, index)).reduce(0) { $0 + Int($1) }
                #expect(built.prefixSum(through: index) == expected)
            }
        }
    }

    /// The brute-force model the index must match: positions by definition.
    struct Model {
        var frontier = 0
        var departed: Set<Int> = []
        func position(_ order: Int) -> Int? {
            guard order > self.frontier, !self.departed.contains(order) else { return nil }
            return order - self.frontier - self.departed.filter { $0 > self.frontier && $0 < order }.count
        }
        func isAdmitted(_ order: Int) -> Bool { order >= 1 && order <= self.frontier && !self.departed.contains(order) }
        /// Position as a count: waiting orders ahead plus one (orders are dense up to `maxOrder`).
        func countedPosition(_ order: Int) -> Int? {
            guard order > self.frontier, !self.departed.contains(order) else { return nil }
            return ((self.frontier + 1)..<order).filter { !self.departed.contains($0) }.count + 1
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func positionIndexMatchesBruteForceUnderRandomOperations(seed: UInt64) {
        var random = SplitMix(state: seed)
        var index = PositionIndex()
        var model = Model()
        var maxOrder = 0
        var mismatches: [Int] = []
        for step in 0..<300 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0...3:
                maxOrder += Int.random(in: 1...5, using: &random)  // joins
            case 4...6 where maxOrder > model.frontier:
                // Departures of waiting places (sometimes repeated, as a re-read batch would).
                let count = Int.random(in: 1...3, using: &random)
                let orders = (0..<count).map { _ in Int.random(in: (model.frontier + 1)...maxOrder, using: &random) }
                index.apply(departures: orders)
                model.departed.formUnion(orders)
            case 7...8:
                // Admission takes the lowest waiting orders: the frontier jumps to the k-th waiting one.
                let waiting = ((model.frontier + 1)...max(model.frontier + 1, maxOrder)).filter {
                    $0 <= maxOrder && !model.departed.contains($0)
                }
                guard !waiting.isEmpty else { continue }
                let k = Int.random(in: 1...min(4, waiting.count), using: &random)
                model.frontier = waiting[k - 1]
                index.advance(frontier: model.frontier)
            default:
                index.advance(frontier: model.frontier - 1)  // stale frontier: never moves back
            }
            #expect(index.frontier == model.frontier)
            #expect(index.departedCount == model.departed.count)
            // Checking every order after every step is quadratic; every third step is plenty.
            guard step % 3 == 0 else { continue }
            for order in 1...(maxOrder + 3) {
                // One #expect per mismatch list, not per probe: debug-mode expectations are slow.
                if index.position(order: order) != model.position(order) || index.isAdmitted(order) != model.isAdmitted(order)
                    || (order <= maxOrder && index.position(order: order) != model.countedPosition(order)) {
                    mismatches.append(order)
                }
            }
        }
        #expect(mismatches.isEmpty, "orders whose position differs from the model: \(mismatches.prefix(20))")
        // A rebuild from the waiting set gives the same positions.
        let waiting = ((model.frontier + 1)...max(model.frontier + 1, maxOrder)).filter { $0 <= maxOrder && !model.departed.contains($0) }
        let rebuilt = PositionIndex(frontier: model.frontier, maxOrder: maxOrder, waiting: waiting)
        for order in 1...(maxOrder + 3) where order <= maxOrder {
            #expect(rebuilt.position(order: order) == model.position(order))
        }
    }

    /// A tiny admission rate (an admin may set 1e-300/s) gives a capped ETA: converting
    /// position / rate to Int unchecked crashed a worker on `GET .../queue/{ticket}`.
    @Test func etaOfATinyRateIsCappedNotATrap() {
        #expect(AdmissionRateEstimator.etaSeconds(position: 5, rate: 1e-300) == Int(Int32.max))
        #expect(AdmissionRateEstimator.etaSeconds(position: Int.max, rate: .leastNonzeroMagnitude) == Int(Int32.max))
        #expect(AdmissionRateEstimator.etaSeconds(position: 5, rate: 2) == 3)
        #expect(AdmissionRateEstimator.etaSeconds(position: 5, rate: 0) == nil)
        #expect(AdmissionRateEstimator.etaSeconds(position: 5, rate: .nan) == nil)
        #expect(AdmissionRateEstimator.etaSeconds(position: -1, rate: 1) == nil)
    }

    @Test func rateEstimatorUsesConfiguredRateUntilMeasured() {
        var rate = AdmissionRateEstimator(halfLife: 5, window: 1)
        #expect(rate.etaSeconds(position: 10, configured: 4) == 3)
        #expect(rate.etaSeconds(position: 10, configured: 0) == nil)
        rate.record(admitted: 100, at: 0)  // opens the window only
        #expect(rate.measured == nil)
        rate.record(admitted: 5, at: 0.5)
        rate.record(admitted: 5, at: 1.0)
        #expect(rate.measured == 10)
        #expect(rate.etaSeconds(position: 25, configured: 1) == 3)
        rate.record(admitted: 20, at: 2.0)  // sample 20/s moves the average up, not all the way
        let measured = rate.measured ?? 0
        #expect(measured > 10 && measured < 20)
        rate.suspend()
        rate.record(admitted: 1000, at: 50)
        #expect(rate.measured == measured)
    }

    @Test func aTickThatArrivesAfterTheSnapshotThatSawItStillGivesTheAdmissionTime() {
        var state = EventPositionState()
        let settings = EventQueueSettings(fields: ["rate": "2", "sessionSeconds": "60", "paused": "0"])
        _ = state.apply(.rebuilt(frontier: 2, maxOrder: 10, settings: settings, nowMs: 1_000, cursor: "0-0", waiting: [3, 4, 5, 6, 7, 8, 9, 10]),
                        now: 0, batchSize: 100)
        // The snapshot saw frontier 6 at 9,000 ms before the messages of the ticks that reached
        // 4 (at 5,000) and 6 (at 8,000) were handled.
        _ = state.apply(.incremental(frontier: 6, settings: settings, nowMs: 9_000, departures: []), now: 1, batchSize: 100)
        #expect(state.status(order: 5) == .admitted(expiresAtMs: 69_000))
        state.recordTick(frontier: 4, admittedAtMs: 5_000)
        state.recordTick(frontier: 6, admittedAtMs: 8_000)
        #expect(state.status(order: 3) == .admitted(expiresAtMs: 65_000))
        #expect(state.status(order: 4) == .admitted(expiresAtMs: 65_000))
        #expect(state.status(order: 5) == .admitted(expiresAtMs: 68_000))
        #expect(state.status(order: 6) == .admitted(expiresAtMs: 68_000))
        #expect(state.status(order: 1) == .admitted(expiresAtMs: 61_000))
        // A later tick still goes on the end.
        state.recordTick(frontier: 7, admittedAtMs: 10_000)
        _ = state.apply(.incremental(frontier: 7, settings: settings, nowMs: 10_500, departures: []), now: 2, batchSize: 100)
        #expect(state.status(order: 7) == .admitted(expiresAtMs: 70_000))
    }

    @Test func stateReportsStatusesChangesAndAdmissionTimes() {
        var state = EventPositionState()
        #expect(state.status(order: 1) == .unknown)
        let settings = EventQueueSettings(fields: ["rate": "2", "sessionSeconds": "60", "paused": "0"])
        var applied = state.apply(.rebuilt(frontier: 2, maxOrder: 10, settings: settings, nowMs: 1_000, cursor: "5-0", waiting: [4, 5, 7, 8, 9, 10]),
                                  now: 0, batchSize: 100)
        #expect(applied.changes.isEmpty)
        #expect(state.cursor == "5-0")
        // departed: 3, 6. Waiting 4 → position 1; 7 → 3 (4, 5 ahead); 10 → 6.
        #expect(state.status(order: 4) == .waiting(position: 1, etaSeconds: 1))
        #expect(state.status(order: 7) == .waiting(position: 3, etaSeconds: 2))
        #expect(state.status(order: 3) == .departed)
        #expect(state.status(order: 2) == .admitted(expiresAtMs: 61_000))
        state.recordTick(frontier: 5, admittedAtMs: 2_000)
        var paused = settings
        paused.paused = true
        applied = state.apply(.incremental(frontier: 5, settings: paused, nowMs: 2_100,
                                           departures: [.init(id: "6-0", order: 9), .init(id: "7-0", order: 0)]),
                              now: 0.1, batchSize: 2)
        #expect(applied.previousFrontier == 2 && applied.frontier == 5)
        #expect(applied.changes == [.paused, .settings])
        #expect(applied.hasMore)
        #expect(state.cursor == "7-0")
        #expect(state.status(order: 4) == .admitted(expiresAtMs: 62_000))
        #expect(state.status(order: 10) == .waiting(position: 3, etaSeconds: 2))  // 6 and 9 departed
        applied = state.apply(.trimmed(frontier: 5, settings: paused, nowMs: 3_000), now: 0.2, batchSize: 2)
        #expect(applied.needsRebuild && state.needsRebuild)
    }

    @Test func snapshotRepliesParse() throws {
        func bulk(_ text: String) -> RedisValue { .bulkString(.init(string: text)) }
        let reply = RedisValue.array([
            bulk("ok"), .integer(7), .array([bulk("rate"), bulk("2.5"), bulk("paused"), bulk("1")]), .integer(1234),
            .array([.array([bulk("1-0"), .array([bulk("o"), bulk("9"), bulk("r"), bulk("l")])])]),
        ])
        let parsed = try PositionSnapshot.parseSnapshot(reply)
        #expect(parsed == .incremental(frontier: 7, settings: EventQueueSettings(ratePerSecond: 2.5, paused: true), nowMs: 1234,
                                       departures: [.init(id: "1-0", order: 9)]))
        let rebuild = RedisValue.array([.integer(3), .integer(9), .array([bulk("opensAt"), bulk("5")]), .integer(1), bulk("0-0"), .array([bulk("4")])])
        // Not open yet (opensAt set, no cohort): no orders exist.
        #expect(try PositionSnapshot.parseRebuild(rebuild) == .rebuilt(
            frontier: 3, maxOrder: 0, settings: EventQueueSettings(opensAtMs: 5), nowMs: 1, cursor: "0-0", waiting: [4]))
        #expect(throws: RedisError.self) { try PositionSnapshot.parseSnapshot(.integer(1)) }
    }
}
