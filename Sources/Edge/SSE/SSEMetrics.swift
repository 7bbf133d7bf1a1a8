import CoreMetrics
import Synchronization

/// The hub's metric handles, created once: `waitroom_sse_streams_open`,
/// `waitroom_sse_events_sent_total{event}`, `waitroom_position_update_lag_seconds` and
/// `waitroom_sse_update_interval_seconds{loop}`, `waitroom_sse_walk_busy_ratio{loop}` and
/// `waitroom_sse_batched_sends{loop, error}`.
final class SSEMetrics: Sendable {
    private let open = Atomic<Int>(0)
    private let streamsOpen: Gauge
    let position: Counter
    let admitted: Counter
    let paused: Counter
    let resumed: Counter
    let soldOut: Counter
    let other: Counter
    let lag: Timer
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory) {
        self.streamsOpen = Gauge(label: "waitroom_sse_streams_open", dimensions: [], factory: factory)
        func sent(_ name: String) -> Counter {
            Counter(label: "waitroom_sse_events_sent_total", dimensions: [("event", name)], factory: factory)
        }
        self.position = sent("position")
        self.admitted = sent("admitted")
        self.paused = sent("paused")
        self.resumed = sent("resumed")
        self.soldOut = sent("sold_out")
        self.other = sent("other")
        self.lag = Timer(label: "waitroom_position_update_lag_seconds", dimensions: [], factory: factory)
        self.streamsOpen.record(0)
        self.factory = factory
    }

    /// `waitroom_sse_update_interval_seconds{loop}`: the interval between position values in
    /// force on one loop (above the minimum while it sheds load).
    func intervalGauge(loop: String) -> Gauge {
        Gauge(label: "waitroom_sse_update_interval_seconds", dimensions: [("loop", loop)], factory: factory)
    }

    /// `waitroom_sse_walk_busy_ratio{loop}`: the share of the last two seconds one loop spent walking
    /// streams (``SSEPacing``'s busy signal).
    func busyGauge(loop: String) -> Gauge {
        Gauge(label: "waitroom_sse_walk_busy_ratio", dimensions: [("loop", loop)], factory: factory)
    }

    /// `waitroom_sse_batched_sends{loop, error}`: 1 when the loop's direct writes go to the
    /// kernel in batches (``SSESendBatch``), 0 when each has its own `send`; `error` is the errno
    /// of a kernel that refused io_uring (0 otherwise).
    func batchedSends(loop: String, on: Bool, error: Int32) {
        Gauge(label: "waitroom_sse_batched_sends", dimensions: [("loop", loop), ("error", String(error))], factory: factory)
            .record(on ? 1 : 0)
    }

    func streamOpened() {
        let now = self.open.wrappingAdd(1, ordering: .relaxed).newValue
        self.streamsOpen.record(now)
    }

    func streamClosed() {
        let now = self.open.wrappingSubtract(1, ordering: .relaxed).newValue
        self.streamsOpen.record(now)
    }

    func sent(_ name: String) {
        switch name {
        case "position": self.position.increment()
        case "admitted": self.admitted.increment()
        case "paused": self.paused.increment()
        case "resumed": self.resumed.increment()
        case "sold_out": self.soldOut.increment()
        default: self.other.increment()
        }
    }
}
