/// What an ``EventTracker`` reports after each applied snapshot (on every tick and at least once a
/// second), for the app to hand to the SSE hub.
public struct EventTrackerUpdate: Sendable {
    /// An edge-triggered change of the event's settings.
    public enum Change: Sendable, Hashable {
        /// Admission was paused.
        case paused
        /// Admission was resumed.
        case resumed
        /// The event became sold out.
        case soldOut
        /// Any setting changed (rate, caps, pause, ...).
        case settings
    }

    /// The event.
    public var eventID: String
    /// When the trigger (tick message or timer) that led to this update arrived.
    public var receivedAt: ContinuousClock.Instant
    /// The frontier before; orders in `previousFrontier + 1 ... frontier` may have just been admitted.
    public var previousFrontier: Int
    /// The frontier now.
    public var frontier: Int
    /// The settings now.
    public var settings: EventQueueSettings
    /// What changed since the previous update.
    public var changes: [Change]

    /// An update.
    public init(
        eventID: String,
        receivedAt: ContinuousClock.Instant,
        previousFrontier: Int,
        frontier: Int,
        settings: EventQueueSettings,
        changes: [Change]
    ) {
        self.eventID = eventID
        self.receivedAt = receivedAt
        self.previousFrontier = previousFrontier
        self.frontier = frontier
        self.settings = settings
        self.changes = changes
    }

    /// Orders that may have been admitted by this update.
    public var newlyAdmitted: ClosedRange<Int>? {
        self.frontier > self.previousFrontier ? (self.previousFrontier + 1)...self.frontier : nil
    }
}
