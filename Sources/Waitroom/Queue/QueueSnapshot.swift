/// One atomic read of what an edge needs per tick: frontier, new departures, settings.
public struct QueueSnapshot: Sendable, Hashable {
    /// A waiting place that left the line without admission.
    public struct Departure: Sendable, Hashable {
        /// The stream entry id (pass the last one as `after` next time).
        public var id: String
        /// The departed order.
        public var order: Int
        /// `l` left, `x` abandoned.
        public var reason: String

        /// A departure from parts.
        public init(id: String, order: Int, reason: String) {
            self.id = id
            self.order = order
            self.reason = reason
        }
    }

    /// The frontier F.
    public var frontier: Int
    /// Departures after the requested stream id, oldest first (at most the requested count).
    public var departures: [Departure]
    /// The settings hash (`wr:{e}:cfg`).
    public var settings: [String: String]
    /// When the last admission happened (unix ms), 0 if none.
    public var lastTickMilliseconds: Int64
    /// How many were admitted in the last admission tick.
    public var lastTickCount: Int

    /// A snapshot from parts.
    public init(frontier: Int, departures: [Departure], settings: [String: String], lastTickMilliseconds: Int64, lastTickCount: Int) {
        self.frontier = frontier
        self.departures = departures
        self.settings = settings
        self.lastTickMilliseconds = lastTickMilliseconds
        self.lastTickCount = lastTickCount
    }
}
