/// The admission settings of one event's queue, as stored in `wr:{e}:cfg`.
public struct QueueSettings: Sendable, Hashable {
    /// Places admitted per second (token bucket rate). May be fractional.
    public var ratePerSecond: Double
    /// Most admitted places active at once; `0` means no cap.
    public var maxActive: Int
    /// How long an admission stays valid.
    public var sessionSeconds: Int
    /// While `true` nobody is admitted, and the token bucket does not fill.
    public var paused: Bool
    /// A waiting place with no open stream and no poll for this long is abandoned; `0` = never.
    public var abandonAfterSeconds: Int
    /// When the line opens (unix ms); before it, joins form the pre-queue cohort whose order is
    /// drawn by lottery at opening. `0` (or a time already past at the first configure) = open.
    public var opensAtMilliseconds: Int64

    /// Settings from parts.
    public init(
        ratePerSecond: Double,
        maxActive: Int,
        sessionSeconds: Int,
        paused: Bool = false,
        abandonAfterSeconds: Int = 60,
        opensAtMilliseconds: Int64 = 0
    ) {
        self.ratePerSecond = ratePerSecond
        self.maxActive = maxActive
        self.sessionSeconds = sessionSeconds
        self.paused = paused
        self.abandonAfterSeconds = abandonAfterSeconds
        self.opensAtMilliseconds = opensAtMilliseconds
    }

    /// Throws ``WaitroomError/Code/invalidSettings`` for values out of range.
    public func validate() throws {
        guard ratePerSecond.isFinite, ratePerSecond >= 0 else {
            throw WaitroomError(.invalidSettings, "ratePerSecond must be a finite number ≥ 0")
        }
        guard maxActive >= 0 else { throw WaitroomError(.invalidSettings, "maxActive must be ≥ 0") }
        guard sessionSeconds > 0 else { throw WaitroomError(.invalidSettings, "sessionSeconds must be > 0") }
        guard abandonAfterSeconds >= 0 else { throw WaitroomError(.invalidSettings, "abandonAfterSeconds must be ≥ 0") }
        guard opensAtMilliseconds >= 0 else { throw WaitroomError(.invalidSettings, "opensAt must be ≥ 0") }
    }
}
