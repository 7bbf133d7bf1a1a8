/// Tuning of an ``EventTracker``.
public struct EventTrackerConfiguration: Sendable {
    /// The longest time between two snapshots when no tick arrives.
    public var refreshInterval: Duration
    /// Departures read per script call (`XRANGE … COUNT`).
    public var departuresBatch: Int
    /// Half-life of the admission rate average, in seconds.
    public var rateHalfLife: Double
    /// Pause between attempts to (re)subscribe after a failure.
    public var resubscribeDelay: Duration

    /// The defaults: refresh every second, batches of 10,000, 5 s half-life.
    public init(
        refreshInterval: Duration = .seconds(1),
        departuresBatch: Int = 10_000,
        rateHalfLife: Double = 5,
        resubscribeDelay: Duration = .milliseconds(500)
    ) {
        self.refreshInterval = refreshInterval
        self.departuresBatch = departuresBatch
        self.rateHalfLife = rateHalfLife
        self.resubscribeDelay = resubscribeDelay
    }
}
