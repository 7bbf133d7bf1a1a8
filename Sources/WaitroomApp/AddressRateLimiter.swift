import Synchronization

/// Per-client-address token buckets (joins per second), as a pure value type with the time
/// passed in. Memory is bounded: idle buckets are dropped, and past `maxAddresses` the oldest go.
struct AddressRateLimiterState: Sendable {
    struct Bucket: Sendable {
        var tokens: Double
        var updatedAt: Double
    }

    let ratePerSecond: Double
    let burst: Double
    let maxAddresses: Int
    private(set) var buckets: [String: Bucket] = [:]
    private var lastSweep: Double = 0

    init(ratePerSecond: Double, burst: Double, maxAddresses: Int = 100_000) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        self.maxAddresses = maxAddresses
    }

    /// Takes one token for `address` at `now` (seconds); answers `nil` when allowed, else the
    /// seconds to wait.
    mutating func take(_ address: String, now: Double) -> Double? {
        if now - lastSweep >= 60 || buckets.count >= maxAddresses { sweep(now: now) }
        var bucket = buckets[address] ?? Bucket(tokens: burst, updatedAt: now)
        bucket.tokens = min(burst, bucket.tokens + max(0, now - bucket.updatedAt) * ratePerSecond)
        bucket.updatedAt = now
        defer { buckets[address] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return nil
        }
        return (1 - bucket.tokens) / ratePerSecond
    }

    /// Drops buckets that have refilled (they are as good as new), then the oldest if still full.
    private mutating func sweep(now: Double) {
        lastSweep = now
        let full = burst / ratePerSecond
        buckets = buckets.filter { now - $0.value.updatedAt < full }
        if buckets.count >= maxAddresses {
            let keep = buckets.sorted { $0.value.updatedAt > $1.value.updatedAt }.prefix(maxAddresses / 2)
            buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}

/// The limiter shared by a process's event loops.
final class AddressRateLimiter: Sendable {
    private let state: Mutex<AddressRateLimiterState>
    private let origin = ContinuousClock.now

    init(ratePerSecond: Double, burst: Double) {
        state = Mutex(AddressRateLimiterState(ratePerSecond: ratePerSecond, burst: burst))
    }

    func take(_ address: String) -> Double? {
        let elapsed = ContinuousClock.now - origin
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return state.withLock { $0.take(address, now: now) }
    }
}
