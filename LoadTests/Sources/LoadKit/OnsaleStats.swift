/// What one `onsale-worker` has seen of its users so far (counters cumulative since it started),
/// and, in its final report, the latency of every step and the per-second series.
///
/// Workers send it inside their `WorkerReport`; the coordinator sums the workers' latest values
/// with `merge`.
public struct OnsaleStats: Codable, Sendable, Equatable {
    /// Joins answered `200`/`201` with a ticket.
    public var joined: UInt64 = 0
    /// Streams open right now.
    public var streamsOpen: Int = 0
    /// Users whose stream has shown a position and no admission yet.
    public var waiting: Int = 0
    /// `admitted` events received.
    public var admitted: UInt64 = 0
    /// Reservations answered `201`.
    public var reservations: UInt64 = 0
    /// Confirms answered `202`.
    public var confirms: UInt64 = 0
    /// Orders seen `completed`.
    public var ordersCompleted: UInt64 = 0
    /// Orders seen `cancelled` (declined payments).
    public var ordersCancelled: UInt64 = 0
    /// Tickets in completed orders (the codes the clients received), by ticket class.
    public var ticketsByClass: [String: UInt64] = [:]
    /// Users that reached an end state (bought, sold out, gave up, failed).
    public var finishedUsers: UInt64 = 0
    /// Expected end states and refusals by kind, e.g. `410 sold_out`, `409 insufficient_inventory`, `event sold_out`.
    public var outcomes: [String: UInt64] = [:]
    /// Unexpected failures by status and error code, e.g. `503 dependency_unavailable`, `connect`.
    public var errors: [String: UInt64] = [:]
    /// Latency of each step in µs (final report only), keyed by `OnsaleStep.rawValue`.
    public var steps: [String: LatencyDigest] = [:]
    /// One entry per second of the run that saw anything (final report only).
    public var series: [SecondSample] = []

    /// Empty stats.
    public init() {}

    /// Tickets in completed orders, all classes.
    public var ticketsBought: UInt64 { self.ticketsByClass.values.reduce(0, +) }

    /// Unexpected failures, all kinds.
    public var errorCount: UInt64 { self.errors.values.reduce(0, +) }

    /// Adds `other` (another worker's stats) to these.
    public mutating func merge(_ other: OnsaleStats) {
        self.joined += other.joined
        self.streamsOpen += other.streamsOpen
        self.waiting += other.waiting
        self.admitted += other.admitted
        self.reservations += other.reservations
        self.confirms += other.confirms
        self.ordersCompleted += other.ordersCompleted
        self.ordersCancelled += other.ordersCancelled
        self.finishedUsers += other.finishedUsers
        self.ticketsByClass.merge(other.ticketsByClass, uniquingKeysWith: +)
        self.outcomes.merge(other.outcomes, uniquingKeysWith: +)
        self.errors.merge(other.errors, uniquingKeysWith: +)
        for (step, digest) in other.steps {
            self.steps[step] = LatencyDigest.merged(self.steps[step] ?? LatencyDigest(), digest)
        }
        self.series = SecondSample.merged(self.series, other.series)
    }
}
