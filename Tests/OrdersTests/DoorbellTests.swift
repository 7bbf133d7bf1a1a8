import Testing
@testable import Orders

@Suite struct DoorbellTests {
    @Test func aRingWakesTheWaiterAndTimeOutsDoNotBreakIt() async throws {
        let bell = Doorbell()
        // Time-outs first (an AsyncStream would be finished for good after the first one).
        for _ in 0..<3 {
            let start = ContinuousClock.now
            await bell.wait(atMost: .milliseconds(30))
            #expect(ContinuousClock.now - start >= .milliseconds(25))
        }
        // A ring before the wait is kept for it.
        bell.ring()
        let start = ContinuousClock.now
        await bell.wait(atMost: .seconds(30))
        #expect(ContinuousClock.now - start < .seconds(10))
        // A ring during the wait ends it.
        async let waited: Void = bell.wait(atMost: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        bell.ring()
        let before = ContinuousClock.now
        await waited
        #expect(ContinuousClock.now - before < .seconds(10))
    }
}
