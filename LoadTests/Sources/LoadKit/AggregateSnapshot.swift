/// The sum of the latest reports of all workers at one moment, plus rates since the previous one.
public struct AggregateSnapshot: Codable, Sendable, Equatable {
    /// Seconds since the run started (coordinator clock).
    public var elapsed: Double
    /// Workers that have sent a report.
    public var workersReporting: Int
    /// Workers that have sent their final report.
    public var workersFinished: Int
    /// Sum of the workers' targets.
    public var target: Int
    /// Connection attempts started.
    public var attempted: UInt64
    /// Connections open.
    public var open: Int
    /// Connections closed after having been open.
    public var closed: UInt64
    /// Errors.
    public var errors: UInt64
    /// SSE events received.
    public var events: UInt64
    /// SSE events by type.
    public var eventsByType: [String: UInt64]
    /// Completed requests.
    public var requests: UInt64
    /// Statuses of completed requests.
    public var statuses: [String: UInt64]
    /// Events per second since the previous snapshot.
    public var eventsPerSecond: Double
    /// Requests per second since the previous snapshot.
    public var requestsPerSecond: Double
}
