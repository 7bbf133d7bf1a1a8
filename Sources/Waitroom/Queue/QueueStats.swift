/// Counters and gauges of one event's queue, read atomically.
public struct QueueStats: Sendable, Hashable {
    /// Places waiting in the open line.
    public var waiting: Int
    /// Admitted places whose admission has not expired or finished.
    public var active: Int
    /// Places in the pre-queue cohort (before opening).
    public var preQueue: Int
    /// The frontier F: largest order ever admitted.
    public var frontier: Int
    /// The last sequence number handed out (= joins that made a place).
    public var lastSeq: Int
    /// Places admitted since the event was defined.
    public var admittedTotal: Int
    /// Places created by joins.
    public var joinsTotal: Int
    /// Waiting places that left.
    public var leftTotal: Int
    /// Waiting places abandoned.
    public var abandonedTotal: Int
    /// Admissions that expired unused.
    public var expiredTotal: Int
    /// When the last admission happened (unix ms), 0 if none.
    public var lastTickMilliseconds: Int64
    /// Whether the line is open (lottery drawn or no lottery).
    public var isOpen: Bool
    /// Whether admission is paused.
    public var paused: Bool
    /// Whether the event is sold out.
    public var soldOut: Bool
    /// `SHA1(seed)` (hex) of the lottery, published from when the event is defined.
    public var seedHash: String?
    /// The lottery seed, revealed at opening.
    public var seed: String?
    /// Size of the lottery cohort, after opening.
    public var cohort: Int?
    /// The raw settings hash (`wr:{e}:cfg`).
    public var settings: [String: String]

    /// Stats from parts.
    public init(
        waiting: Int, active: Int, preQueue: Int, frontier: Int, lastSeq: Int,
        admittedTotal: Int, joinsTotal: Int, leftTotal: Int, abandonedTotal: Int, expiredTotal: Int,
        lastTickMilliseconds: Int64, isOpen: Bool, paused: Bool, soldOut: Bool,
        seedHash: String?, seed: String?, cohort: Int?, settings: [String: String]
    ) {
        self.waiting = waiting
        self.active = active
        self.preQueue = preQueue
        self.frontier = frontier
        self.lastSeq = lastSeq
        self.admittedTotal = admittedTotal
        self.joinsTotal = joinsTotal
        self.leftTotal = leftTotal
        self.abandonedTotal = abandonedTotal
        self.expiredTotal = expiredTotal
        self.lastTickMilliseconds = lastTickMilliseconds
        self.isOpen = isOpen
        self.paused = paused
        self.soldOut = soldOut
        self.seedHash = seedHash
        self.seed = seed
        self.cohort = cohort
        self.settings = settings
    }
}
