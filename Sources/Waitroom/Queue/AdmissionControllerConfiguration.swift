/// Timing of the ``AdmissionController``.
public struct AdmissionControllerConfiguration: Sendable, Hashable {
    /// How often the leader runs `admit`. Default 100 ms.
    public var tickInterval: Duration
    /// How often the leader runs `sweep`. Default 1 s.
    public var sweepInterval: Duration
    /// Lease time-to-live (`PX`); a dead leader is replaced after at most this long. Default 3 s.
    public var leaseTTL: Duration
    /// How often a follower tries to take the lease. Default 250 ms.
    public var acquireInterval: Duration
    /// How often `wr:events` is re-read. Default 1 s.
    public var discoveryInterval: Duration
    /// Most places admitted by one tick. Default 10,000.
    public var admitBatchLimit: Int
    /// Most places abandoned by one sweep. Default 1,000.
    public var sweepBatchLimit: Int
    /// Give held leases up on graceful shutdown (a successor takes over at once). Default `true`.
    public var releaseLeasesOnShutdown: Bool
    /// A fixed list of events instead of discovering them from `wr:events` (`nil`: discover).
    public var events: [String]?

    /// A configuration from parts; the defaults are the production values.
    public init(
        tickInterval: Duration = .milliseconds(100),
        sweepInterval: Duration = .seconds(1),
        leaseTTL: Duration = .seconds(3),
        acquireInterval: Duration = .milliseconds(250),
        discoveryInterval: Duration = .seconds(1),
        admitBatchLimit: Int = 10_000,
        sweepBatchLimit: Int = 1_000,
        releaseLeasesOnShutdown: Bool = true,
        events: [String]? = nil
    ) {
        self.tickInterval = tickInterval
        self.sweepInterval = sweepInterval
        self.leaseTTL = leaseTTL
        self.acquireInterval = acquireInterval
        self.discoveryInterval = discoveryInterval
        self.admitBatchLimit = admitBatchLimit
        self.sweepBatchLimit = sweepBatchLimit
        self.releaseLeasesOnShutdown = releaseLeasesOnShutdown
        self.events = events
    }

    /// The lease TTL in whole milliseconds, as `PX` takes it.
    var leaseTTLMilliseconds: Int {
        let (seconds, attoseconds) = leaseTTL.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
