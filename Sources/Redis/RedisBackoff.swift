import NIOCore

/// Exponential reconnect delay with jitter: `min * 2^attempt`, capped at `max`, then a random
/// value in its upper half so that many clients do not reconnect in lock step.
struct RedisBackoff: Sendable {
    var minimum: TimeAmount
    var maximum: TimeAmount

    func delay(attempt: Int, random: Double = Double.random(in: 0...1)) -> TimeAmount {
        let minimum = max(self.minimum.nanoseconds, 1)
        let maximum = max(self.maximum.nanoseconds, minimum)
        let shift = min(max(attempt, 0), 32)
        let (scaled, overflow) = minimum.multipliedReportingOverflow(by: Int64(1) << shift)
        let base = overflow ? maximum : min(scaled, maximum)
        let jittered = Double(base) * (0.5 + 0.5 * min(max(random, 0), 1))
        return .nanoseconds(Int64(jittered))
    }
}
