import NIOCore
import CoreMetrics

/// The streams of one event loop, grouped by event: touched only on that loop, so the hot path
/// takes no locks. One keepalive timer per loop walks all of them.
// @unchecked Sendable: all mutable state is confined to `eventLoop` (every entry point runs there:
// stream hooks are called on the connection's loop, the hub hops with `execute`/`submit`),
// asserted in debug builds.
final class SSELoopRegistry: @unchecked Sendable {
    /// The streams of one event on this loop, with the application's latest resolver for them.
    final class EventStreams {
        var streams: [UInt64: SSEStream] = [:]
        var resolver: SSEHub.Resolver?
        /// Streams a tick reached less than `minimumInterval` after their last value: they are
        /// resolved again as soon as they are due (one timer per event and loop), so a tick that
        /// arrives a little early is late by milliseconds, not by a whole tick.
        var deferred: [SSEStream] = []
        var deferredDue: NIODeadline = .distantFuture
        var deferTimer: Scheduled<Void>?
        var deferTimerDeadline: NIODeadline = .distantFuture
    }

    let eventLoop: any EventLoop
    private let configuration: SSEHubConfiguration
    private let metrics: SSEMetrics
    private var events: [String: EventStreams] = [:]
    private var nextID: UInt64 = 0
    private var keepalive: RepeatedTask?
    private var closed = false
    /// Scratch arrays reused by every walk (no allocation per tick once grown).
    private var touched: [SSEStream] = []
    private var ending: [SSEStream] = []
    /// A walk wrote (and flushed) a latest value.
    private var wroteInWalk = false
    /// The interval between latest values in force on this loop (stretched under overload).
    private(set) var pacing: SSEPacing
    private let intervalGauge: Gauge
    private var lagProbe: Scheduled<Void>?

    init(eventLoop: any EventLoop, configuration: SSEHubConfiguration, metrics: SSEMetrics, name: String = "0") {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.metrics = metrics
        self.pacing = SSEPacing(configuration: configuration)
        self.intervalGauge = metrics.intervalGauge(loop: name)
        self.intervalGauge.record(Double(configuration.minimumInterval.nanoseconds) / 1e9)
    }

    // MARK: Stream lifecycle

    /// Starts a stream: `retry:`, then its first value at once (or its final event, then the end).
    func open(_ stream: SSEStream, writer: HTTPBodyStreamWriter) {
        self.eventLoop.assertInEventLoop()
        stream.writer = writer
        let now = NIODeadline.now()
        var buffer = writer.makeBuffer(capacity: 96)
        SSEEncoder.writeRetry(milliseconds: self.configuration.retryMilliseconds, into: &buffer)
        let group = self.events[stream.eventID]
        let first = stream.initial ?? group?.resolver?(stream.key)
        stream.initial = nil
        if self.closed {
            SSEEncoder.writeRetry(milliseconds: self.configuration.reconnectRetryMilliseconds, into: &buffer)
            SSEEncoder.writeComment("reconnect", into: &buffer)
            writer.write(consume buffer, flush: false)
            stream.ended = true
            writer.finish()
            return
        }
        switch first {
        case .final(let event):
            self.encode(event, for: stream, into: &buffer)
            writer.write(consume buffer, flush: false)
            stream.ended = true
            writer.finish()
            return
        case .latest(let event):
            self.encode(event, for: stream, into: &buffer)
            stream.lastHash = SSEStream.hash(event)
            stream.lastSentAt = now
        case nil:
            break
        }
        writer.write(consume buffer, flush: true)
        stream.lastWriteAt = now

        self.nextID &+= 1
        stream.id = self.nextID
        let streams = group ?? {
            let created = EventStreams()
            self.events[stream.eventID] = created
            return created
        }()
        streams.streams[stream.id] = stream
        self.metrics.streamOpened()
        self.startKeepaliveIfNeeded()
        writer.closeFuture.whenComplete { _ in
            self.eventLoop.execute { self.remove(stream) }
        }
    }

    /// The server is draining: ask the browser to reconnect soon (elsewhere) and end the stream.
    func drain(_ stream: SSEStream) {
        self.eventLoop.assertInEventLoop()
        guard !stream.ended, let writer = stream.writer else { return }
        var buffer = writer.makeBuffer(capacity: 48)
        SSEEncoder.writeRetry(milliseconds: self.configuration.reconnectRetryMilliseconds, into: &buffer)
        SSEEncoder.writeComment("reconnect", into: &buffer)
        writer.write(consume buffer, flush: false)
        self.end(stream)
    }

    /// Writability changed; when writable again, send the latest value a slow reader missed.
    func writabilityChanged(_ stream: SSEStream, isWritable: Bool) {
        self.eventLoop.assertInEventLoop()
        stream.writable = isWritable
        guard isWritable, stream.pending, !stream.ended, let writer = stream.writer else { return }
        stream.pending = false
        guard let resolver = self.events[stream.eventID]?.resolver, let update = resolver(stream.key) else { return }
        switch update {
        case .final(let event): self.sendFinal(event, to: stream, writer: writer)
        case .latest(let event): self.sendLatest(event, to: stream, writer: writer, now: NIODeadline.now())
        }
        self.finishWalk(receivedAt: nil)
    }

    // MARK: Hub operations (on the loop)

    /// One tick for one event on this loop: every stream that is due (its last value is at least
    /// ``SSEHubConfiguration/minimumInterval`` old) or whose key is in `urgentKeys` is resolved;
    /// changed values are written (one frame per stream), finals end their streams, and each
    /// touched channel is flushed once at the end.
    func update(eventID: String, receivedAt: ContinuousClock.Instant, urgentKeys: ClosedRange<Int>?, resolve: @escaping SSEHub.Resolver) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        group.resolver = resolve
        let now = NIODeadline.now()
        let interval = self.pacing.interval
        for stream in group.streams.values {
            let urgent = urgentKeys?.contains(stream.key) ?? false
            let due = now - stream.lastSentAt >= interval
            if !urgent && !due {
                if stream.writer != nil { self.deferStream(stream, in: group, now: now) }
                continue
            }
            guard let writer = stream.writer else { continue }
            let writable = stream.writable
            if !writable && !urgent {
                stream.pending = true
                continue
            }
            guard let update = resolve(stream.key) else { continue }
            switch update {
            case .final(let event):
                self.sendFinal(event, to: stream, writer: writer)
            case .latest(let event):
                guard due else { continue }
                guard writable else {
                    stream.pending = true
                    continue
                }
                self.sendLatest(event, to: stream, writer: writer, now: now)
            }
        }
        self.finishWalk(receivedAt: receivedAt)
        self.scheduleDeferred(eventID: eventID, group: group)
    }

    /// Puts a stream that is not due yet in its event's deferred list: due within the early-tick
    /// window, it goes out exactly when due; otherwise a later tick sends it, or the timer does
    /// at due + grace if no tick comes.
    private func deferStream(_ stream: SSEStream, in group: EventStreams, now: NIODeadline) {
        let dueAt = stream.lastSentAt + self.pacing.interval
        let sendAt = dueAt - now <= self.configuration.earlyTickWindow ? dueAt : dueAt + self.configuration.lateTickGrace
        group.deferredDue = min(group.deferredDue, sendAt)
        guard !stream.deferred else { return }
        stream.deferred = true
        group.deferred.append(stream)
    }

    private func scheduleDeferred(eventID: String, group: EventStreams) {
        guard !group.deferred.isEmpty else { return }
        if group.deferTimer != nil {
            guard group.deferredDue < group.deferTimerDeadline else { return }
            group.deferTimer?.cancel()
        }
        group.deferTimerDeadline = group.deferredDue
        group.deferTimer = self.eventLoop.scheduleTask(deadline: group.deferredDue) {
            self.sendDeferred(eventID: eventID)
        }
    }

    /// Resolves the deferred streams of an event that are now due and writes what changed.
    private func sendDeferred(eventID: String) {
        guard let group = self.events[eventID] else { return }
        group.deferTimer = nil
        group.deferTimerDeadline = .distantFuture
        let waiting = group.deferred
        group.deferred.removeAll(keepingCapacity: true)
        group.deferredDue = .distantFuture
        guard let resolve = group.resolver, !self.closed else {
            for stream in waiting { stream.deferred = false }
            return
        }
        let now = NIODeadline.now()
        let interval = self.pacing.interval
        for stream in waiting {
            stream.deferred = false
            guard !stream.ended, let writer = stream.writer else { continue }
            if now - stream.lastSentAt < interval {
                self.deferStream(stream, in: group, now: now)
                continue
            }
            guard stream.writable else {
                stream.pending = true
                continue
            }
            switch resolve(stream.key) {
            case .final(let event)?: self.sendFinal(event, to: stream, writer: writer)
            case .latest(let event)?: self.sendLatest(event, to: stream, writer: writer, now: now)
            case nil: continue
            }
        }
        self.finishWalk(receivedAt: nil)
        self.scheduleDeferred(eventID: eventID, group: group)
    }

    /// Sends `update` to every stream of the event at once (not rate-limited); a final ends them all.
    func broadcast(eventID: String, _ update: SSEStreamUpdate) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        let now = NIODeadline.now()
        for stream in group.streams.values {
            guard let writer = stream.writer else { continue }
            switch update {
            case .final(let event):
                var buffer = writer.makeBuffer(capacity: 64 + event.data.utf8.count)
                self.encode(event, for: stream, into: &buffer)
                writer.write(consume buffer, flush: false)
                self.ending.append(stream)
            case .latest(let event):
                // A slow reader gets no backlog: it will see the latest state when it catches up.
                guard stream.writable else {
                    stream.pending = true
                    continue
                }
                var buffer = writer.makeBuffer(capacity: 64 + event.data.utf8.count)
                self.encode(event, for: stream, into: &buffer)
                writer.write(consume buffer, flush: false)
                stream.lastWriteAt = now
                self.touched.append(stream)
            }
        }
        self.finishWalk(receivedAt: nil)
    }

    /// Ends the streams of one key (e.g. the place left), after sending `event` if given.
    func finish(eventID: String, key: Int, event: SSEEvent?) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        for stream in group.streams.values where stream.key == key {
            guard let writer = stream.writer else { continue }
            if let event {
                var buffer = writer.makeBuffer(capacity: 64 + event.data.utf8.count)
                self.encode(event, for: stream, into: &buffer)
                writer.write(consume buffer, flush: false)
            }
            self.ending.append(stream)
        }
        self.finishWalk(receivedAt: nil)
    }

    /// Stops the keepalive timer and asks every stream to reconnect; later streams are refused the same way.
    func close() {
        self.eventLoop.assertInEventLoop()
        self.closed = true
        self.keepalive?.cancel()
        self.keepalive = nil
        self.lagProbe?.cancel()
        self.lagProbe = nil
        for group in self.events.values {
            group.deferTimer?.cancel()
            group.deferTimer = nil
            group.deferTimerDeadline = .distantFuture
            for stream in group.streams.values { self.ending.append(stream) }
        }
        for stream in self.ending { self.drain(stream) }
        self.ending.removeAll(keepingCapacity: true)
    }

    /// Counts for ``SSEHub/stats()``.
    func stats() -> SSEHubStats {
        self.eventLoop.assertInEventLoop()
        var stats = SSEHubStats(updateInterval: self.pacing.interval)
        for group in self.events.values where !group.streams.isEmpty {
            stats.events += 1
            stats.streams += group.streams.count
            stats.pendingStreams += group.streams.values.reduce(0) { $0 + ($1.pending ? 1 : 0) }
        }
        return stats
    }

    // MARK: Helpers

    /// Writes a final event (unflushed); the stream ends after the walk's flush.
    private func sendFinal(_ event: SSEEvent, to stream: SSEStream, writer: HTTPBodyStreamWriter) {
        var buffer = writer.makeBuffer(capacity: 64 + event.data.utf8.count)
        self.encode(event, for: stream, into: &buffer)
        writer.write(consume buffer, flush: false)
        self.ending.append(stream)
    }

    /// Writes and flushes a latest value unless it is the one the stream has already: one write
    /// and one flush per stream, nothing left for the walk's end.
    private func sendLatest(_ event: SSEEvent, to stream: SSEStream, writer: HTTPBodyStreamWriter, now: NIODeadline) {
        let hash = SSEStream.hash(event)
        guard hash != stream.lastHash else { return }
        var buffer = writer.makeBuffer(capacity: 64 + event.data.utf8.count)
        self.encode(event, for: stream, into: &buffer)
        writer.write(consume buffer, flush: true)
        stream.lastHash = hash
        stream.lastSentAt = now
        stream.lastWriteAt = now
        self.wroteInWalk = true
    }

    private func encode(_ event: SSEEvent, for stream: SSEStream, into buffer: inout ByteBuffer) {
        SSEEncoder.writeEvent(id: stream.nextEventID, name: event.name, data: event.data, into: &buffer)
        stream.nextEventID &+= 1
        self.metrics.sent(event.name)
    }

    /// Flushes every touched channel once, ends the streams queued for ending, records the lag.
    private func finishWalk(receivedAt: ContinuousClock.Instant?) {
        let wrote = self.wroteInWalk || !self.touched.isEmpty || !self.ending.isEmpty
        self.wroteInWalk = false
        for stream in self.touched where !stream.ended {
            stream.writer?.flush()
        }
        self.touched.removeAll(keepingCapacity: true)
        for stream in self.ending {
            self.end(stream)
        }
        self.ending.removeAll(keepingCapacity: true)
        if wrote, let receivedAt {
            let lag = ContinuousClock.now - receivedAt
            let nanoseconds = lag.components.seconds * 1_000_000_000 + lag.components.attoseconds / 1_000_000_000
            self.metrics.lag.recordNanoseconds(max(0, nanoseconds))
        }
    }

    /// Finishes the body (which flushes) and forgets the stream.
    private func end(_ stream: SSEStream) {
        guard !stream.ended else { return }
        stream.ended = true
        stream.writer?.finish()
        self.remove(stream)
    }

    private func remove(_ stream: SSEStream) {
        stream.ended = true
        guard let group = self.events[stream.eventID], group.streams.removeValue(forKey: stream.id) != nil else { return }
        self.metrics.streamClosed()
        if group.streams.isEmpty {
            self.events[stream.eventID] = nil
        }
    }

    /// Measures how late this loop runs its timers and paces latest values by it (``SSEPacing``).
    private func scheduleLagProbe() {
        guard !self.closed, self.pacing.maximum > self.pacing.minimum else { return }
        let deadline = NIODeadline.now() + self.configuration.lagProbeInterval
        self.lagProbe = self.eventLoop.scheduleTask(deadline: deadline) {
            if self.pacing.observe(lag: NIODeadline.now() - deadline) {
                self.intervalGauge.record(Double(self.pacing.interval.nanoseconds) / 1e9)
            }
            self.scheduleLagProbe()
        }
    }

    private func startKeepaliveIfNeeded() {
        if self.lagProbe == nil { self.scheduleLagProbe() }
        guard self.keepalive == nil, !self.closed else { return }
        let half = TimeAmount.nanoseconds(max(1_000_000, self.configuration.keepaliveInterval.nanoseconds / 2))
        self.keepalive = self.eventLoop.scheduleRepeatedTask(initialDelay: half, delay: half) { _ in
            self.sendKeepalives(olderThan: half)
        }
    }

    /// Writes `: keepalive` to every writable stream silent for at least `age`; with the timer
    /// running every `age`, no stream is silent longer than twice that (the keepalive interval).
    private func sendKeepalives(olderThan age: TimeAmount) {
        let now = NIODeadline.now()
        for group in self.events.values {
            for stream in group.streams.values where now - stream.lastWriteAt >= age {
                guard let writer = stream.writer, stream.writable else { continue }
                var buffer = writer.makeBuffer(capacity: 16)
                SSEEncoder.writeComment("keepalive", into: &buffer)
                writer.write(consume buffer, flush: true)
                stream.lastWriteAt = now
            }
        }
    }
}
