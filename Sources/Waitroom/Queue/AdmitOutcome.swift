/// The outcome of one admission tick (``QueueStore/admit(event:leaseID:limit:)``).
public enum AdmitOutcome: Sendable, Hashable {
    /// The lease is not held by the caller: nothing was done.
    case fenced
    /// The event has no configuration.
    case notConfigured
    /// The tick ran.
    case ran(AdmitResult)
}

/// What one admission tick did.
public struct AdmitResult: Sendable, Hashable {
    /// Places admitted in this tick.
    public var admitted: Int
    /// The frontier after the tick.
    public var frontier: Int
    /// Places waiting after the tick.
    public var waiting: Int
    /// Active admissions after the tick.
    public var active: Int
    /// Admissions that expired in this tick.
    public var expired: Int
    /// `true` when the line is not open yet and `opensAt` has come: run ``QueueStore/open(event:leaseID:)``.
    public var openDue: Bool
    /// Redis `TIME` of the tick (unix ms).
    public var nowMilliseconds: Int64

    /// A result from parts.
    public init(admitted: Int, frontier: Int, waiting: Int, active: Int, expired: Int, openDue: Bool, nowMilliseconds: Int64) {
        self.admitted = admitted
        self.frontier = frontier
        self.waiting = waiting
        self.active = active
        self.expired = expired
        self.openDue = openDue
        self.nowMilliseconds = nowMilliseconds
    }
}
