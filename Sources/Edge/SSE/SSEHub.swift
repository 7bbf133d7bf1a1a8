import CoreMetrics
import Metrics
import NIOCore
import NIOHTTP1
import Synchronization

/// Fans Server-Sent Events out to many mostly idle streams at the cost of one write per changed
/// stream per tick.
///
/// Generic: a stream is an event id, an integer key (the app uses the place's order) and the
/// latest value; what a key should show is asked from the application's ``Resolver`` (the app
/// wires its position tracker there). Streams live in one registry per event loop, touched only
/// on that loop (no locks on the hot path). ``update(eventID:receivedAt:urgentKeys:resolve:)`` runs
/// one task per loop that walks that loop's streams of the event: a stream is resolved when its
/// last value is at least ``SSEHubConfiguration/minimumInterval`` old (or its key is urgent, e.g.
/// just admitted), a changed value is written as one frame, and each channel is flushed once. A
/// stream whose channel is not writable (slow reader) gets nothing queued: it is marked and
/// resolved afresh when writability returns, so memory stays flat. Finals (`admitted`,
/// `sold_out`) go out at once and end the stream. A `: keepalive` comment keeps silent streams
/// alive (one timer per loop). On graceful shutdown each stream gets a short `retry:` and
/// `: reconnect` and ends, so browsers reconnect (elsewhere) and keep their places.
///
/// ```swift
/// let hub = SSEHub(eventLoopGroup: group, metricsFactory: factory)
/// router.get("/v1/events/{eventId}/queue/{ticket}/stream") { request, _ in
///     hub.response(eventID: eventID, key: order,
///                  lastEventID: SSEEncoder.lastEventID(from: request.headers),
///                  initial: currentUpdate(order))
/// }
/// // on every tracker update:
/// hub.update(eventID: eventID, receivedAt: update.receivedAt, urgentKeys: update.newlyAdmitted) { order in ... }
/// ```
public final class SSEHub: Sendable {
    /// What a key should show now; `nil` leaves the stream as it is. Called on event loops, so
    /// it must be quick and must not block (a lock-protected lookup is fine).
    public typealias Resolver = @Sendable (_ key: Int) -> SSEStreamUpdate?

    /// The configuration the hub was made with.
    public let configuration: SSEHubConfiguration
    private let registries: [ObjectIdentifier: SSELoopRegistry]
    private let orderedRegistries: [SSELoopRegistry]
    /// Registries of loops outside the group given at init (cold path, rare).
    private let extraRegistries = Mutex<[ObjectIdentifier: SSELoopRegistry]>([:])
    private let metrics: SSEMetrics

    /// A hub for streams served by `eventLoopGroup`'s loops; metrics go to `metricsFactory`
    /// (default: `MetricsSystem.factory`).
    public init(
        eventLoopGroup: any EventLoopGroup,
        configuration: SSEHubConfiguration = SSEHubConfiguration(),
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.configuration = configuration
        let metrics = SSEMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        self.metrics = metrics
        var registries: [ObjectIdentifier: SSELoopRegistry] = [:]
        var ordered: [SSELoopRegistry] = []
        for loop in eventLoopGroup.makeIterator() {
            let registry = SSELoopRegistry(eventLoop: loop, configuration: configuration, metrics: metrics,
                                           name: "\(ordered.count)")
            registries[ObjectIdentifier(loop)] = registry
            ordered.append(registry)
        }
        self.registries = registries
        self.orderedRegistries = ordered
    }

    // MARK: Streams

    /// A `200 text/event-stream` response whose body is a stream of `eventID` for `key`.
    ///
    /// It starts with `retry:` and `initial` (or, when `nil`, whatever the event's latest
    /// resolver says for `key`, if it has one yet). Event ids continue from `lastEventID + 1`.
    public func response(
        eventID: String,
        key: Int,
        lastEventID: UInt64? = nil,
        initial: SSEStreamUpdate? = nil,
        headers: HTTPHeaders = [:]
    ) -> HTTPResponse {
        var allHeaders = SSEEncoder.headers
        for (name, value) in headers { allHeaders.replaceOrAdd(name: name, value: value) }
        return .stream(headers: allHeaders, self.stream(eventID: eventID, key: key, lastEventID: lastEventID, initial: initial))
    }

    /// The streamed body alone (see ``response(eventID:key:lastEventID:initial:headers:)``).
    public func stream(eventID: String, key: Int, lastEventID: UInt64? = nil, initial: SSEStreamUpdate? = nil) -> HTTPResponseStream {
        let stream = SSEStream(eventID: eventID, key: key, lastEventID: lastEventID, initial: initial)
        var body = HTTPResponseStream(
            takesOverConnection: true,
            onDrain: { writer in
                self.registry(for: writer.eventLoop).drain(stream)
            },
            onWritabilityChanged: { writer, isWritable in
                self.registry(for: writer.eventLoop).writabilityChanged(stream, isWritable: isWritable)
            },
            start: { writer in
                self.registry(for: writer.eventLoop).open(stream, writer: writer)
            }
        )
        // The socket is closed: never write to its descriptor again (the number is reused).
        body.onInactive = { _ in stream.descriptor = -1 }
        return body
    }

    // MARK: Fan-out

    /// A tick of `eventID`: on every loop, one task resolves the streams that are due (or whose
    /// key is in `urgentKeys`) with `resolve` and writes what changed. `receivedAt` (when the
    /// tick arrived) feeds `waitroom_position_update_lag_seconds`. `resolve` is also kept to
    /// answer new streams and slow readers catching up. `tickPeriod`, when the caller knows it,
    /// is how often updates will come while positions keep moving: the hub measures it too, but
    /// only from the second update after a pause, and it spreads a burst of streams that are all
    /// due at once only when it knows ticks come often.
    public func update(
        eventID: String,
        receivedAt: ContinuousClock.Instant = .now,
        urgentKeys: ClosedRange<Int>? = nil,
        tickPeriod: TimeAmount? = nil,
        resolve: @escaping Resolver
    ) {
        self.onEveryLoop {
            $0.update(eventID: eventID, receivedAt: receivedAt, urgentKeys: urgentKeys, tickPeriod: tickPeriod, resolve: resolve)
        }
    }

    /// The positions of `eventID` did not move since the last ``update(eventID:receivedAt:urgentKeys:resolve:)``:
    /// only streams opened since then are resolved again (their first value may predate that
    /// walk), and `resolve` is kept. Costs nothing per stream that already saw the last walk.
    public func refresh(eventID: String, resolve: @escaping Resolver) {
        self.onEveryLoop { $0.refresh(eventID: eventID, resolve: resolve) }
    }

    /// Sends `update` to every stream of `eventID` at once, e.g. `paused`/`resumed` as
    /// ``SSEStreamUpdate/latest(_:)`` or `sold_out` as ``SSEStreamUpdate/final(_:)`` (which ends them).
    public func broadcast(eventID: String, _ update: SSEStreamUpdate) {
        self.onEveryLoop { $0.broadcast(eventID: eventID, update) }
    }

    /// Ends every stream of `key` in `eventID` (e.g. the place left), after sending `event` if given.
    public func finish(eventID: String, key: Int, with event: SSEEvent? = nil) {
        self.onEveryLoop { $0.finish(eventID: eventID, key: key, event: event) }
    }

    /// Counts summed over all loops.
    public func stats() async -> SSEHubStats {
        var total = SSEHubStats()
        for registry in self.allRegistries() {
            guard let stats = try? await registry.eventLoop.submit({ registry.stats() }).get() else { continue }
            total.streams += stats.streams
            total.pendingStreams += stats.pendingStreams
            total.events += stats.events
            total.updateInterval = max(total.updateInterval, stats.updateInterval)
            total.busyShare = max(total.busyShare, stats.busyShare)
            total.batchedLoops += stats.batchedLoops
            total.sendBatches += stats.sendBatches
            total.batchedFrames += stats.batchedFrames
        }
        return total
    }

    /// Stops the keepalive timers and asks every open stream to reconnect (elsewhere); streams
    /// opened afterwards are told the same at once. Call it when the process stops serving.
    public func close() async {
        for registry in self.allRegistries() {
            try? await registry.eventLoop.submit { registry.close() }.get()
        }
    }

    // MARK: Loops

    private func registry(for loop: any EventLoop) -> SSELoopRegistry {
        if let registry = self.registries[ObjectIdentifier(loop)] { return registry }
        let configuration = self.configuration
        let metrics = self.metrics
        return self.extraRegistries.withLock { extra in
            if let registry = extra[ObjectIdentifier(loop)] { return registry }
            let registry = SSELoopRegistry(eventLoop: loop, configuration: configuration, metrics: metrics,
                                           name: "extra-\(extra.count)")
            extra[ObjectIdentifier(loop)] = registry
            return registry
        }
    }

    private func allRegistries() -> [SSELoopRegistry] {
        let extra = self.extraRegistries.withLock { $0.isEmpty ? [] : Array($0.values) }
        return extra.isEmpty ? self.orderedRegistries : self.orderedRegistries + extra
    }

    private func onEveryLoop(_ body: @escaping @Sendable (SSELoopRegistry) -> Void) {
        for registry in self.allRegistries() {
            if registry.eventLoop.inEventLoop {
                body(registry)
            } else {
                registry.eventLoop.execute { body(registry) }
            }
        }
    }
}
