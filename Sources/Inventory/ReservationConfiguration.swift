/// How reservations behave; set from the server's configuration.
public struct ReservationConfiguration: Sendable, Equatable {
    /// How long a hold lasts before it expires (by the database clock).
    public var holdSeconds: Int
    /// Tickets one admission may hold or have bought at once (held + confirmed).
    public var ticketsPerAdmission: Int
    /// Operations one combined transaction may carry.
    public var maxBatchSize: Int
    /// `lock_timeout` of the combined transactions: a batch that cannot get its class rows in
    /// this time fails as `busy` (503) rather than queueing without bound.
    public var lockTimeout: Duration
    /// How often the sweeper expires holds.
    public var sweepInterval: Duration
    /// Holds one sweep of one event expires at most (the rest wait for the next sweep).
    public var sweepBatchSize: Int
    /// How long idempotency keys are kept.
    public var idempotencyRetention: Duration

    public init(holdSeconds: Int = 300, ticketsPerAdmission: Int = 8, maxBatchSize: Int = 64,
                lockTimeout: Duration = .seconds(2), sweepInterval: Duration = .seconds(2),
                sweepBatchSize: Int = 2_000, idempotencyRetention: Duration = .seconds(86_400)) {
        self.holdSeconds = holdSeconds
        self.ticketsPerAdmission = ticketsPerAdmission
        self.maxBatchSize = maxBatchSize
        self.lockTimeout = lockTimeout
        self.sweepInterval = sweepInterval
        self.sweepBatchSize = sweepBatchSize
        self.idempotencyRetention = idempotencyRetention
    }
}
