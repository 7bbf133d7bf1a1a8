/// The admission settings of an event as the edge reads them from `wr:{e}:cfg`.
public struct EventQueueSettings: Sendable, Equatable {
    /// Places admitted per second (`rate`).
    public var ratePerSecond: Double
    /// Cap of concurrently active admitted users (`maxActive`).
    public var maxActive: Int
    /// How long an admission token stays valid (`sessionSeconds`).
    public var sessionSeconds: Int
    /// Whether ops paused admission (`paused` = 1).
    public var paused: Bool
    /// Whether the event can admit no one more (`soldOut` = 1).
    public var soldOut: Bool
    /// Opening time in unix ms; `0` means open (`opensAt`).
    public var opensAtMs: Int64
    /// Size of the pre-queue cohort once the lottery ran (`cohort`), else `nil`.
    public var cohort: Int?

    /// Settings with explicit values.
    public init(
        ratePerSecond: Double = 0,
        maxActive: Int = 0,
        sessionSeconds: Int = 0,
        paused: Bool = false,
        soldOut: Bool = false,
        opensAtMs: Int64 = 0,
        cohort: Int? = nil
    ) {
        self.ratePerSecond = ratePerSecond
        self.maxActive = maxActive
        self.sessionSeconds = sessionSeconds
        self.paused = paused
        self.soldOut = soldOut
        self.opensAtMs = opensAtMs
        self.cohort = cohort
    }

    /// Settings from the fields of the `cfg` hash; missing or malformed fields keep their defaults.
    public init(fields: [String: String]) {
        self.init()
        if let value = fields["rate"].flatMap(Double.init), value.isFinite, value >= 0 { self.ratePerSecond = value }
        if let value = fields["maxActive"].flatMap(Int.init) { self.maxActive = value }
        if let value = fields["sessionSeconds"].flatMap(Int.init) { self.sessionSeconds = value }
        self.paused = fields["paused"] == "1"
        self.soldOut = fields["soldOut"] == "1"
        if let value = fields["opensAt"].flatMap(Int64.init) { self.opensAtMs = value }
        self.cohort = fields["cohort"].flatMap(Int.init)
    }

    /// Whether places have orders yet: the event opened at once, or the lottery has run.
    public var ordersAssigned: Bool { self.opensAtMs == 0 || self.cohort != nil }
}
