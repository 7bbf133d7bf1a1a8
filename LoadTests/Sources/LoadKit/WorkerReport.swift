/// One line that a worker process prints on stdout for its coordinator (JSON, one per line).
///
/// Counters are cumulative since the worker started; the coordinator derives rates from the
/// difference between two reports. `final` is set on the last line, which also carries the latency.
public struct WorkerReport: Codable, Sendable, Equatable {
    /// Index of the worker (0-based).
    public var worker: Int
    /// Seconds since the worker started.
    public var elapsed: Double
    /// Whether this is the worker's last report.
    public var final: Bool
    /// Connections the worker means to open.
    public var target: Int
    /// Connection attempts started.
    public var attempted: UInt64
    /// Connections open right now (SSE: response head `200` received and not closed).
    public var open: Int
    /// Connections that closed after having been open (stream ended or peer closed).
    public var closed: UInt64
    /// Errors: failed connects, non-2xx statuses, protocol errors.
    public var errors: UInt64
    /// SSE events (frames dispatched), all types.
    public var events: UInt64
    /// SSE events by type.
    public var eventsByType: [String: UInt64]
    /// Completed HTTP requests (joins).
    public var requests: UInt64
    /// HTTP statuses of completed requests, by code.
    public var statuses: [String: UInt64]
    /// Latency samples (µs) so far; only filled on the final report.
    public var latency: LatencyDigest?
    /// The SSE latency samples of each stream's third and later updates; final report only.
    public var steadyLatency: LatencyDigest?
    /// The users' progress of an `onsale` worker (other workers send none).
    public var onsale: OnsaleStats?

    /// A report with all counters zero.
    public init(worker: Int, target: Int) {
        self.worker = worker
        self.elapsed = 0
        self.final = false
        self.target = target
        self.attempted = 0
        self.open = 0
        self.closed = 0
        self.errors = 0
        self.events = 0
        self.eventsByType = [:]
        self.requests = 0
        self.statuses = [:]
        self.latency = nil
        self.steadyLatency = nil
        self.onsale = nil
    }
}
