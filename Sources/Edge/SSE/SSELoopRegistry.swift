import NIOCore
import CoreMetrics

/// The streams of one event loop, grouped by event: touched only on that loop, so the hot path
/// takes no locks. One keepalive timer per loop walks all of them.
///
/// A tick does not walk every stream of its event: between two values a stream waits in the
/// event's waiting slots until a tick could send it (its due time less the early-tick window),
/// then in its ready list; a tick walks the ready list, the waiting streams it can send now, and
/// the streams of newly admitted keys. With ticks every 100 ms and a value a second, that is about
/// a tenth of the streams per tick instead of all of them (measured before: walks that sent
/// nothing took 3 to 15 ms over 8,000 streams, ten times a second).
// @unchecked Sendable: all mutable state is confined to `eventLoop` (every entry point runs there:
// stream hooks are called on the connection's loop, the hub hops with `execute`/`submit`),
// asserted in debug builds.
final class SSELoopRegistry: @unchecked Sendable {
    /// The streams of one event on this loop, with the application's latest resolver for them.
    final class EventStreams {
        let eventID: String
        var streams: [UInt64: SSEStream] = [:]
        var resolver: SSEHub.Resolver?
        /// The first stream of each key (more follow ``SSEStream/nextWithKey``): a tick finds the
        /// streams of newly admitted keys without a walk over every stream.
        var byKey: [Int: SSEStream] = [:]
        /// Streams between two values, filed by when a tick could send them again (due time less
        /// ``SSEHubConfiguration/earlyTickWindow``). The timer of the earliest slot moves them
        /// to ``ready``, and files the ones a tick changed meanwhile as that tick would have.
        var waiting = SSEDueSlots(lane: .waiting)
        var waitTimer = SSESlotTimer()
        /// Streams a tick sends at once (due, or nearly): the next tick walks them. Entries whose
        /// ``SSEStream/ready`` flag was cleared since are skipped.
        var ready: [SSEStream] = []
        /// Streams a tick reached less than `minimumInterval` after their last value: they are
        /// resolved again as soon as they are due (one timer per event and loop), so a tick that
        /// arrives a little early is late by milliseconds, not by a whole tick.
        var deferred = SSEDueSlots()
        var deferTimer = SSESlotTimer()
        /// When the last update (tick) of the event reached this loop, and the smoothed time
        /// between updates: when the next tick is expected, for ``deferStream(_:in:now:)``.
        var lastUpdateAt: NIODeadline?
        var updatePeriod: TimeAmount = .zero
        /// Streams opened since the last walk: their first value was resolved before they
        /// joined, and a walk may have passed them by in between (see ``refresh(eventID:resolve:)``).
        var recent: [SSEStream] = []
        /// When the tick behind the last walk arrived: values sent later, when due, count their
        /// lag (`waitroom_position_update_lag_seconds`) from it.
        var lastReceivedAt: ContinuousClock.Instant?
        /// Due values the current walk sent, and how many it sends before it spreads the rest
        /// (see ``SSELoopRegistry/update(eventID:receivedAt:urgentKeys:resolve:)``).
        var dueSentInWalk = 0
        var spreadAfter = Int.max

        init(eventID: String) {
            self.eventID = eventID
        }
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
    private var woken: [SSEStream] = []
    /// A walk wrote (and flushed) a latest value.
    private var wroteInWalk = false
    /// The interval between latest values in force on this loop (stretched under overload).
    private(set) var pacing: SSEPacing
    private let intervalGauge: Gauge
    private let busyGauge: Gauge
    private var lagProbe: Scheduled<Void>?
    /// Wall time spent walking streams since the last probe, and when that probe ran.
    private var busyNanoseconds: Int64 = 0
    private var lastProbeAt: NIODeadline?
    /// The frame of a direct write is built here (no allocation per frame), with room in front
    /// for the chunk header.
    private var scratch = ByteBufferAllocator().buffer(capacity: 512)
    /// The direct writes of a walk slice, submitted together (``SSESendBatch``); `nil` when
    /// batching is off or the kernel has no io_uring. Used only inside ``batched(_:)``.
    private var sendBatch: SSESendBatch<(stream: SSEStream, writer: HTTPBodyStreamWriter)>?
    private var batching = false

    init(eventLoop: any EventLoop, configuration: SSEHubConfiguration, metrics: SSEMetrics, name: String = "0") {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.metrics = metrics
        self.pacing = SSEPacing(configuration: configuration)
        self.intervalGauge = metrics.intervalGauge(loop: name)
        self.intervalGauge.record(Double(configuration.minimumInterval.nanoseconds) / 1e9)
        self.busyGauge = metrics.busyGauge(loop: name)
        self.busyGauge.record(0)
        if configuration.directWrites && configuration.batchedSends {
            let made = SSESendBatch<(stream: SSEStream, writer: HTTPBodyStreamWriter)>.make(capacity: max(1, min(configuration.walkSlice, 1024)))
            self.sendBatch = made.batch
            metrics.batchedSends(loop: name, on: made.batch != nil, error: made.error)
        }
    }

    /// Whether this loop's direct writes go through ``SSESendBatch``.
    var sendsBatched: Bool { self.sendBatch?.isUsable ?? false }

    // MARK: Stream lifecycle

    /// Starts a stream: `retry:`, then its first value at once (or its final event, then the end).
    func open(_ stream: SSEStream, writer: HTTPBodyStreamWriter) {
        self.eventLoop.assertInEventLoop()
        stream.writer = writer
        if self.configuration.directWrites, let socket = writer.directSocket {
            stream.descriptor = socket.descriptor
            stream.chunked = socket.chunked
        }
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
        // Through NIO: the response head may still be queued there.
        if stream.descriptor >= 0 {
            self.queue(buffer, framed: false, for: stream, writer: writer)
        } else {
            writer.write(consume buffer, flush: true)
        }
        stream.lastWriteAt = now

        self.nextID &+= 1
        stream.id = self.nextID
        let streams = group ?? {
            let created = EventStreams(eventID: stream.eventID)
            self.events[stream.eventID] = created
            return created
        }()
        streams.streams[stream.id] = stream
        stream.nextWithKey = streams.byKey[stream.key]
        streams.byKey[stream.key] = stream
        streams.recent.append(stream)
        self.park(stream, in: streams, now: now)
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
        let retry = self.configuration.reconnectRetryMilliseconds
        _ = self.emit(to: stream, writer: writer, capacity: 48, flush: false) { buffer in
            SSEEncoder.writeRetry(milliseconds: retry, into: &buffer)
            SSEEncoder.writeComment("reconnect", into: &buffer)
        }
        self.end(stream)
    }

    /// Writability changed; when writable again, send the latest value a slow reader missed.
    func writabilityChanged(_ stream: SSEStream, isWritable: Bool) {
        self.eventLoop.assertInEventLoop()
        stream.writable = isWritable
        guard stream.canWrite, stream.pending, !stream.ended, let writer = stream.writer,
              let group = self.events[stream.eventID] else { return }
        stream.pending = false
        let now = NIODeadline.now()
        if let update = group.resolver?(stream.key) {
            switch update {
            case .final(let event): self.sendFinal(event, to: stream, writer: writer)
            case .latest(let event): self.sendLatest(event, to: stream, writer: writer, now: now)
            }
        }
        self.park(stream, in: group, now: now)
        self.finishWalk(receivedAt: nil)
    }

    // MARK: Hub operations (on the loop)

    /// One tick for one event on this loop: every stream that is due (its last value is at least
    /// ``SSEHubConfiguration/minimumInterval`` old) or whose key is in `urgentKeys` is resolved;
    /// changed values are written (one frame per stream), finals end their streams, and each
    /// touched channel is flushed once at the end. Streams due within the early-tick window are
    /// sent when due; the rest are not visited (they wait in the event's waiting slots).
    func update(eventID: String, receivedAt: ContinuousClock.Instant, urgentKeys: ClosedRange<Int>?,
                tickPeriod: TimeAmount? = nil, resolve: @escaping SSEHub.Resolver) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        group.resolver = resolve
        let now = NIODeadline.now()
        if let last = group.lastUpdateAt {
            let gap = now - last
            if gap.nanoseconds > 2 * self.configuration.minimumInterval.nanoseconds {
                // A pause (nothing moved for a while) says nothing of how often ticks come now:
                // the next gap is the first measure again.
                group.updatePeriod = .zero
            } else {
                group.updatePeriod = group.updatePeriod == .zero ? gap : .nanoseconds((group.updatePeriod.nanoseconds * 3 + gap.nanoseconds) / 4)
            }
        }
        group.lastUpdateAt = now
        group.lastReceivedAt = receivedAt
        group.recent.removeAll(keepingCapacity: false)
        // Spreading: when ticks come often (a quarter of the interval or less), a stream is due
        // at a tick about once an interval, and a walk should find about N × period ÷ interval
        // streams due. A walk that finds more than 1.5 times that (at least 64) is a burst: everyone
        // due at once, as after a pause or at the opening, and they would stay in step (each
        // second one walk sending to all, the last of them late by the whole walk). The due
        // streams after that share get one delay of a fraction of the interval (fixed per
        // stream), so they fall due spread over the next interval and each tick sends its
        // share, fresh. Every value still comes at least an interval after the last, at most
        // two. With ticks an interval apart (one change a second) there is nothing to spread:
        // every stream changes at the tick.
        // The period: measured, or (right after a pause, before there is a measure) the caller's.
        let interval = self.pacing.interval
        let period = group.updatePeriod > .zero ? group.updatePeriod : (tickPeriod ?? .zero)
        group.dueSentInWalk = 0
        if period > .zero, period.nanoseconds * 4 <= interval.nanoseconds {
            let share = Double(group.streams.count) * Double(period.nanoseconds) / Double(interval.nanoseconds)
            group.spreadAfter = max(64, Int(1.5 * share))
        } else {
            group.spreadAfter = .max
        }
        // What this tick can send: the ready streams, the waiting ones it can send now (or within
        // the early-tick window; with the slot now is in), and the streams of newly admitted keys.
        // Each stream is in at most one walk: a walk still going when the next tick comes goes
        // on, with the newest values.
        var candidates: [SSEStream] = []
        candidates.reserveCapacity(group.ready.count)
        for stream in group.ready where stream.ready {
            stream.ready = false
            candidates.append(stream)
        }
        group.ready.removeAll(keepingCapacity: true)
        group.waiting.takeDue(now: now + .nanoseconds(Int64(SSEDueSlots.width)), into: &candidates)
        if let urgentKeys { self.appendStreams(of: urgentKeys, in: group, to: &candidates) }
        self.inSlices(candidates, from: 0, startedAt: now) { streams, now in
            self.walk(streams, of: group, now: now, urgentKeys: urgentKeys, ofTick: true, resolve: group.resolver ?? resolve)
        } done: { wrote in
            self.finishWalk(receivedAt: receivedAt, wroteEarlier: wrote)
            self.scheduleDeferred(eventID: eventID, group: group)
        }
    }

    /// Runs `body` over `streams` a slice (``SSEHubConfiguration/walkSlice``) at a time, each
    /// slice in a task of its own, so a walk over thousands of streams does not hold the loop:
    /// other connections' I/O and timers run between slices. Each slice's wall time counts as
    /// busy for ``SSEPacing`` (on a saturated machine slices are preempted and take longer, while
    /// the timers between them stay punctual). What a slice
    /// wrote is flushed and its finals ended before the next; `done` follows the last slice.
    /// A walk goes on when the next tick comes: the streams it has still to visit are in no
    /// other walk (see ``update(eventID:receivedAt:urgentKeys:tickPeriod:resolve:)``).
    ///
    /// Every slice gets the walk's start as its time: the streams of one walk count as sent
    /// together, so they fall due together and share a slot of ``SSEDueSlots`` (one timer), not
    /// a slot per slice. Between two
    /// frames of a stream there is a second from walk start to walk start; its own frames can
    /// be closer by how much earlier in the second walk its slice ran (milliseconds).
    private func inSlices(_ streams: [SSEStream], from start: Int, startedAt: NIODeadline, wroteEarlier: Bool = false,
                          _ body: @escaping (ArraySlice<SSEStream>, NIODeadline) -> Void,
                          done: @escaping (_ wroteEarlier: Bool) -> Void) {
        let slice = max(1, self.configuration.walkSlice)
        let end = streams.count - start <= slice ? streams.count : start + slice   // no overflow at .max
        let sliceStart = NIODeadline.now()
        defer { self.busyNanoseconds += (NIODeadline.now() - sliceStart).nanoseconds }
        self.batched { body(streams[start..<end], startedAt) }
        guard end < streams.count else {
            done(wroteEarlier)
            return
        }
        let wrote = self.finishWalk(receivedAt: nil) || wroteEarlier
        self.eventLoop.execute {
            guard !self.closed else { return }
            self.inSlices(streams, from: end, startedAt: startedAt, wroteEarlier: wrote, body, done: done)
        }
    }

    /// The event's positions did not move: only the streams opened since the last walk are
    /// resolved again (a value resolved before a stream joined may be one walk old); the rest
    /// would send nothing. The resolver is kept for later streams and slow readers.
    func refresh(eventID: String, resolve: @escaping SSEHub.Resolver) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        group.resolver = resolve
        guard !group.recent.isEmpty else { return }
        let recent = group.recent
        group.recent.removeAll(keepingCapacity: false)
        let now = NIODeadline.now()
        self.batched { self.walk(recent, of: group, now: now, urgentKeys: nil, resolve: resolve) }
        self.finishWalk(receivedAt: nil)
        self.scheduleDeferred(eventID: eventID, group: group)
        self.busyNanoseconds += (NIODeadline.now() - now).nanoseconds
    }

    /// Resolves and sends the streams that are due (or urgent). A tick's walk (`ofTick`) holds
    /// the others back (``holdBack(_:in:now:)``) and counts its due values for spreading; a
    /// ``refresh(eventID:resolve:)`` defers them (``deferStream(_:in:now:)``).
    /// Every stream a walk does not send or end is filed again (``park(_:in:now:)``), except a
    /// slow reader's, which its writability hook sends and files.
    private func walk(_ streams: some Sequence<SSEStream>, of group: EventStreams, now: NIODeadline,
                      urgentKeys: ClosedRange<Int>?, ofTick: Bool = false, resolve: SSEHub.Resolver) {
        let interval = self.pacing.interval
        for stream in streams where !stream.ended {
            let urgent = urgentKeys?.contains(stream.key) ?? false
            let due = now >= stream.dueAt(interval)
            if !urgent && !due {
                guard stream.writer != nil else { continue }
                if ofTick {
                    self.holdBack(stream, in: group, now: now)
                } else {
                    self.deferStream(stream, in: group, now: now)
                }
                continue
            }
            guard let writer = stream.writer else { continue }
            let writable = stream.canWrite
            if !writable && !urgent {
                stream.pending = true
                continue
            }
            guard let update = resolve(stream.key) else {
                self.park(stream, in: group, now: now)
                continue
            }
            switch update {
            case .final(let event):
                self.sendFinal(event, to: stream, writer: writer)
            case .latest(let event):
                guard due else {
                    self.park(stream, in: group, now: now)
                    continue
                }
                guard writable else {
                    stream.pending = true
                    continue
                }
                if self.sendLatest(event, to: stream, writer: writer, now: now), ofTick {
                    group.dueSentInWalk += 1
                    if group.dueSentInWalk > group.spreadAfter { stream.phaseDelay = stream.spread(of: interval) }
                }
                self.park(stream, in: group, now: now)
            }
        }
    }

    /// Files a stream that is not being sent now: in the ready list when a tick now could send
    /// it (it is due, or due within the early-tick window), otherwise in the waiting slots until
    /// one could.
    private func park(_ stream: SSEStream, in group: EventStreams, now: NIODeadline) {
        guard !stream.ended, stream.writer != nil else { return }
        let lookAt = stream.dueAt(self.pacing.interval) - self.configuration.earlyTickWindow
        if lookAt > now {
            if group.waiting.file(stream, by: lookAt) < group.waitTimer.slot { self.scheduleWaiting(group) }
        } else {
            self.markReady(stream, in: group)
        }
    }

    /// Lists a stream for the next tick (once).
    private func markReady(_ stream: SSEStream, in group: EventStreams) {
        guard !stream.ready else { return }
        stream.ready = true
        // Streams that ended while ready stay listed until the next tick; without ticks (a
        // paused event) the list is compacted when it has grown past twice the streams.
        if group.ready.count > 2 * group.streams.count + 64 { group.ready.removeAll { !$0.ready || $0.ended } }
        group.ready.append(stream)
    }

    /// A stream a tick reached before it was due: sent when due (a deferred slot) if that is
    /// within the early-tick window, otherwise filed to wait for a later tick.
    private func holdBack(_ stream: SSEStream, in group: EventStreams, now: NIODeadline) {
        let dueAt = stream.dueAt(self.pacing.interval)
        if dueAt - now <= self.configuration.earlyTickWindow {
            group.deferred.file(stream, by: dueAt)
        } else {
            self.park(stream, in: group, now: now)
        }
    }

    /// Appends the streams of `keys` (those open on this loop), by key when there are fewer keys
    /// than streams, otherwise by a look at every key.
    private func appendStreams(of keys: ClosedRange<Int>, in group: EventStreams, to list: inout [SSEStream]) {
        func appendChain(from first: SSEStream?) {
            var next = first
            while let stream = next {
                list.append(stream)
                next = stream.nextWithKey
            }
        }
        let (span, overflow) = keys.upperBound.subtractingReportingOverflow(keys.lowerBound)
        if !overflow && span < group.byKey.count {
            for key in keys { appendChain(from: group.byKey[key]) }
        } else {
            for (key, first) in group.byKey where keys.contains(key) { appendChain(from: first) }
        }
    }

    /// Sets the event's timer for its earliest waiting slot (unless it is set for it).
    private func scheduleWaiting(_ group: EventStreams) {
        guard !self.closed else { return }
        let eventID = group.eventID
        group.waitTimer.arm(for: group.waiting.earliest, on: self.eventLoop) { self.wakeWaiting(eventID: eventID) }
    }

    /// The streams of the waiting slots that ended: a tick could send them now, so they are
    /// ready. One that a tick changed while it was not due yet is also filed as that tick's walk
    /// filed every stream before (``deferStream(_:in:now:)``): sent when due, or, when the next
    /// tick is expected soon after, by that tick (or at due + grace if none comes).
    private func wakeWaiting(eventID: String) {
        guard let group = self.events[eventID] else { return }
        group.waitTimer.fired()
        let started = NIODeadline.now()
        self.woken.removeAll(keepingCapacity: true)
        group.waiting.takeDue(now: started, into: &self.woken)
        let interval = self.pacing.interval
        let early = self.configuration.earlyTickWindow
        for stream in self.woken where !stream.ended && stream.writer != nil {
            if stream.dueAt(interval) - early > started {
                self.park(stream, in: group, now: started)   // its interval grew, or it was sent since
                continue
            }
            if let tick = group.lastUpdateAt, tick > stream.lastSentAt {
                self.deferStream(stream, in: group, now: tick)
            }
            self.markReady(stream, in: group)
        }
        self.woken.removeAll(keepingCapacity: true)
        self.scheduleWaiting(group)
        self.scheduleDeferred(eventID: eventID, group: group)
        self.busyNanoseconds += (NIODeadline.now() - started).nanoseconds
    }

    /// Files a stream that is not due yet in its event's ``SSEDueSlots``. It goes out when due
    /// (within a slot, 4 ms), unless the event's ticks come often enough that the next one is expected before
    /// due + grace (and this one is more than the early-tick window early): then that tick sends
    /// the fresher value, or the timer does at due + grace if no tick comes. (Waiting for the
    /// next tick when ticks are a second apart, as with one admission a second, held a value
    /// back for most of a second: a tick 100 ms early meant a frame 350 ms late, and the lag
    /// carried over to the next ticks.)
    private func deferStream(_ stream: SSEStream, in group: EventStreams, now: NIODeadline) {
        let dueAt = stream.dueAt(self.pacing.interval)
        let grace = self.configuration.lateTickGrace
        let expectedTick = (group.lastUpdateAt ?? now) + group.updatePeriod
        let waitForTick = dueAt - now > self.configuration.earlyTickWindow && expectedTick <= dueAt + grace
        let sendAt = waitForTick ? dueAt + grace : dueAt
        group.deferred.file(stream, by: sendAt)
    }

    /// Sets the event's timer for its earliest slot of deferred streams (unless it is set for it).
    private func scheduleDeferred(eventID: String, group: EventStreams) {
        group.deferTimer.arm(for: group.deferred.earliest, on: self.eventLoop) { self.sendDeferred(eventID: eventID) }
    }

    /// Resolves the deferred streams of an event whose slots have ended and writes what changed.
    private func sendDeferred(eventID: String) {
        guard let group = self.events[eventID] else { return }
        group.deferTimer.fired()
        var waiting: [SSEStream] = []
        group.deferred.takeDue(now: NIODeadline.now(), into: &waiting)
        guard let resolve = group.resolver, !self.closed else { return }
        self.inSlices(waiting, from: 0, startedAt: NIODeadline.now()) { streams, now in
            self.sendDeferred(streams, of: group, now: now, resolve: resolve)
        } done: { wrote in
            self.finishWalk(receivedAt: group.lastReceivedAt, wroteEarlier: wrote)
            self.scheduleDeferred(eventID: eventID, group: group)
        }
    }

    private func sendDeferred(_ streams: ArraySlice<SSEStream>, of group: EventStreams, now: NIODeadline,
                              resolve: SSEHub.Resolver) {
        let interval = self.pacing.interval
        for stream in streams {
            guard !stream.ended, let writer = stream.writer else { continue }
            if now < stream.dueAt(interval) {
                self.holdBack(stream, in: group, now: now)   // sent since it was filed, or the interval grew
                continue
            }
            guard stream.canWrite else {
                stream.pending = true
                continue
            }
            switch resolve(stream.key) {
            case .final(let event)?: self.sendFinal(event, to: stream, writer: writer)
            case .latest(let event)?: self.sendLatest(event, to: stream, writer: writer, now: now)
            case nil: break
            }
            self.park(stream, in: group, now: now)
        }
    }

    /// Sends `update` to every stream of the event at once (not rate-limited); a final ends them all.
    func broadcast(eventID: String, _ update: SSEStreamUpdate) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        let now = NIODeadline.now()
        self.batched { self.broadcast(update, to: group, now: now) }
        self.finishWalk(receivedAt: nil)
    }

    private func broadcast(_ update: SSEStreamUpdate, to group: EventStreams, now: NIODeadline) {
        for stream in group.streams.values {
            guard let writer = stream.writer else { continue }
            switch update {
            case .final(let event):
                _ = self.emit(to: stream, writer: writer, capacity: 64 + event.data.utf8.count, flush: false) { buffer in
                    self.encode(event, for: stream, into: &buffer)
                }
                self.ending.append(stream)
            case .latest(let event):
                // A slow reader gets no backlog: it will see the latest state when it catches up.
                guard stream.canWrite else {
                    stream.pending = true
                    continue
                }
                let unflushed = self.emit(to: stream, writer: writer, capacity: 64 + event.data.utf8.count, flush: false) { buffer in
                    self.encode(event, for: stream, into: &buffer)
                }
                stream.lastWriteAt = now
                if unflushed { self.touched.append(stream) } else { self.wroteInWalk = true }
            }
        }
    }

    /// Ends the streams of one key (e.g. the place left), after sending `event` if given.
    func finish(eventID: String, key: Int, event: SSEEvent?) {
        self.eventLoop.assertInEventLoop()
        guard let group = self.events[eventID] else { return }
        for stream in group.streams.values where stream.key == key {
            guard let writer = stream.writer else { continue }
            if let event {
                _ = self.emit(to: stream, writer: writer, capacity: 64 + event.data.utf8.count, flush: false) { buffer in
                    self.encode(event, for: stream, into: &buffer)
                }
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
            self.stopTimers(of: group)
            for stream in group.ready { stream.ready = false }
            group.ready.removeAll()
            for stream in group.streams.values { self.ending.append(stream) }
        }
        for stream in self.ending { self.drain(stream) }
        self.ending.removeAll(keepingCapacity: true)
    }

    /// Counts for ``SSEHub/stats()``.
    func stats() -> SSEHubStats {
        self.eventLoop.assertInEventLoop()
        var stats = SSEHubStats(updateInterval: self.pacing.interval, busyShare: self.pacing.busyShare)
        stats.batchedLoops = self.sendsBatched ? 1 : 0
        stats.sendBatches = self.sendBatch?.submissions ?? 0
        stats.batchedFrames = self.sendBatch?.framesSubmitted ?? 0
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
        guard !stream.finalWritten else { return }
        stream.finalWritten = true
        _ = self.emit(to: stream, writer: writer, capacity: 64 + event.data.utf8.count, flush: false) { buffer in
            self.encode(event, for: stream, into: &buffer)
        }
        self.ending.append(stream)
    }

    /// Writes and flushes a latest value unless it is the one the stream has already: one write
    /// and one flush per stream, nothing left for the walk's end.
    @discardableResult
    private func sendLatest(_ event: SSEEvent, to stream: SSEStream, writer: HTTPBodyStreamWriter, now: NIODeadline) -> Bool {
        let hash = SSEStream.hash(event)
        guard hash != stream.lastHash else { return false }
        _ = self.emit(to: stream, writer: writer, capacity: 64 + event.data.utf8.count, flush: true) { buffer in
            self.encode(event, for: stream, into: &buffer)
        }
        stream.lastHash = hash
        stream.lastSentAt = now
        stream.phaseDelay = .zero
        stream.lastWriteAt = now
        self.wroteInWalk = true
        return true
    }

    /// Writes one frame that `encode` appends. Straight to the socket (one `send`, no NIO object
    /// touched) when the stream has one and nothing of it is queued in NIO; what the socket does
    /// not take, and every frame of a stream without one, goes through the channel. Returns
    /// `true` when the frame was written through NIO unflushed (`flush: false`).
    private func emit(to stream: SSEStream, writer: HTTPBodyStreamWriter, capacity: Int, flush: Bool,
                      _ encode: (inout ByteBuffer) -> Void) -> Bool {
        // A frame of this stream in the batch goes first (ordering).
        if stream.inSendBatch { self.flushSendBatch() }
        if stream.descriptor >= 0 && stream.queuedWrites == 0 {
            // A full batch goes before this frame is encoded: submitting calls NIO, which can
            // call back into this registry and reuse the scratch buffer.
            if self.batching, let batch = self.sendBatch, !batch.hasRoom(for: capacity + 32) { self.flushSendBatch() }
            self.scratch.clear()
            self.scratch.moveWriterIndex(forwardBy: HTTPStreamHandler.headroom)
            self.scratch.moveReaderIndex(forwardBy: HTTPStreamHandler.headroom)
            encode(&self.scratch)
            if stream.chunked { HTTPStreamHandler.frame(&self.scratch) }
            let descriptor = stream.descriptor
            if self.batching, self.appendToSendBatch(descriptor: descriptor, stream: stream, writer: writer) { return false }
            // Not batched (or larger than the batch takes): its own `send`; its stream has
            // nothing in the batch, so the order of its frames holds.
            let sent = self.scratch.withUnsafeReadableBytes { HTTPDirectSocket.send(descriptor, $0) }
            if sent == self.scratch.readableBytes { return false }
            var rest: ByteBuffer?
            if sent >= 0 {
                self.scratch.moveReaderIndex(forwardBy: sent)
                rest = writer.channel.allocator.buffer(capacity: self.scratch.readableBytes)
                rest!.writeImmutableBuffer(self.scratch)
            }
            self.directWriteFellShort(stream, writer: writer, rest: rest)
            return false
        }
        var buffer = writer.makeBuffer(capacity: capacity)
        encode(&buffer)
        if stream.descriptor >= 0 {
            self.queue(buffer, framed: false, for: stream, writer: writer)
            return false
        }
        writer.write(buffer, flush: flush)
        return !flush
    }

    /// A direct write the socket did not take whole. With the `rest` of the frame, the socket's
    /// buffer is full (a slow reader): NIO keeps the rest and writes it when the socket drains,
    /// and until then the stream is not writable (latest value only). Without (`nil`), the
    /// connection failed: it is closed (NIO's close ends the stream).
    private func directWriteFellShort(_ stream: SSEStream, writer: HTTPBodyStreamWriter, rest: ByteBuffer?) {
        guard let rest else {
            stream.descriptor = -1
            writer.channel.close(promise: nil)
            return
        }
        self.queue(rest, framed: true, for: stream, writer: writer)
    }

    /// Runs `body` with direct writes gathered in the send batch, then submits them.
    private func batched(_ body: () -> Void) {
        guard !self.batching, let batch = self.sendBatch, batch.isUsable else {
            body()
            return
        }
        self.batching = true
        body()
        self.batching = false
        self.flushSendBatch()
    }

    /// Queues the scratch frame for `stream` in the send batch; `false` when it must be sent
    /// another way (no usable batch, or no room left for a frame larger than expected).
    private func appendToSendBatch(descriptor: Int32, stream: SSEStream, writer: HTTPBodyStreamWriter) -> Bool {
        guard let batch = self.sendBatch else { return false }
        let appended = self.scratch.withUnsafeReadableBytes {
            batch.append($0, descriptor: descriptor, owner: (stream, writer))
        }
        if appended { stream.inSendBatch = true }
        return appended
    }

    /// Submits the send batch and handles each frame's outcome as a direct write's. The outcomes
    /// are read first and NIO is called after (a short write's rest, a failed connection's
    /// close): a write through NIO can call back into this registry (a write completing, the
    /// channel's writability), which may add frames to the batch again.
    private func flushSendBatch() {
        guard let batch = self.sendBatch, !batch.isEmpty else { return }
        var followUps: [(stream: SSEStream, writer: HTTPBodyStreamWriter, rest: ByteBuffer?)] = []
        batch.submit { entry, outcome, bytes in
            let (stream, writer) = entry.owner
            stream.inSendBatch = false
            let sent: Int
            switch outcome {
            case .sent: return
            case .short(let count): sent = count
            case .failed: sent = -1
            case .notSubmitted:
                // Not taken by the kernel (nothing was sent): one `send` of its own.
                sent = stream.descriptor >= 0 ? HTTPDirectSocket.send(stream.descriptor, bytes) : -1
            }
            if sent == entry.length { return }
            var rest: ByteBuffer?
            if sent >= 0 {
                rest = writer.channel.allocator.buffer(capacity: entry.length - sent)
                rest!.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
            }
            followUps.append((stream, writer, rest))
        }
        for followUp in followUps { self.directWriteFellShort(followUp.stream, writer: followUp.writer, rest: followUp.rest) }
    }

    /// Writes (and flushes) through NIO, counting the write as queued until NIO has written it;
    /// then a value that waited (`pending`) goes out.
    private func queue(_ buffer: ByteBuffer, framed: Bool, for stream: SSEStream, writer: HTTPBodyStreamWriter) {
        stream.queuedWrites += 1
        let promise = self.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            stream.queuedWrites -= 1
            guard stream.queuedWrites == 0, stream.pending, !stream.ended else { return }
            self.writabilityChanged(stream, isWritable: stream.writable)
        }
        if framed {
            writer.writeFramed(buffer, promise: promise)
        } else {
            writer.write(buffer, promise: promise)
        }
    }

    private func encode(_ event: SSEEvent, for stream: SSEStream, into buffer: inout ByteBuffer) {
        SSEEncoder.writeEvent(id: stream.nextEventID, name: event.name, data: event.data, into: &buffer)
        stream.nextEventID &+= 1
        self.metrics.sent(event.name)
    }

    /// Flushes every touched channel once, ends the streams queued for ending, records the lag.
    /// Returns whether anything was written since the last call.
    @discardableResult
    private func finishWalk(receivedAt: ContinuousClock.Instant?, wroteEarlier: Bool = false) -> Bool {
        self.flushSendBatch()
        let wrote = self.wroteInWalk || !self.touched.isEmpty || !self.ending.isEmpty || wroteEarlier
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
        return wrote
    }

    /// Finishes the body (which flushes) and forgets the stream.
    private func end(_ stream: SSEStream) {
        guard !stream.ended else { return }
        if stream.inSendBatch { self.flushSendBatch() }   // its frames before the body's end
        stream.ended = true
        stream.writer?.finish()
        self.remove(stream)
    }

    private func remove(_ stream: SSEStream) {
        stream.ended = true
        guard let group = self.events[stream.eventID], group.streams.removeValue(forKey: stream.id) != nil else { return }
        self.metrics.streamClosed()
        if group.byKey[stream.key] === stream {
            group.byKey[stream.key] = stream.nextWithKey
        } else {
            var previous = group.byKey[stream.key]
            while let candidate = previous, candidate.nextWithKey !== stream { previous = candidate.nextWithKey }
            previous?.nextWithKey = stream.nextWithKey
        }
        stream.nextWithKey = nil
        if group.streams.isEmpty {
            self.stopTimers(of: group)
            self.events[stream.eventID] = nil
        }
    }

    /// Cancels the event's deferred and waiting timers and empties their slots.
    private func stopTimers(of group: EventStreams) {
        group.deferTimer.cancel()
        group.deferred.removeAll()
        group.waitTimer.cancel()
        group.waiting.removeAll()
    }

    /// Measures how late this loop runs its timers and how much of its time walks take, and
    /// paces latest values by both (``SSEPacing``).
    private func scheduleLagProbe() {
        guard !self.closed, self.pacing.maximum > self.pacing.minimum else { return }
        let deadline = NIODeadline.now() + self.configuration.lagProbeInterval
        if self.lastProbeAt == nil {
            self.lastProbeAt = NIODeadline.now()
            self.busyNanoseconds = 0
        }
        self.lagProbe = self.eventLoop.scheduleTask(deadline: deadline) {
            let now = NIODeadline.now()
            let elapsed = now - (self.lastProbeAt ?? now)
            let busy = TimeAmount.nanoseconds(self.busyNanoseconds)
            self.lastProbeAt = now
            self.busyNanoseconds = 0
            if self.pacing.observe(lag: now - deadline, busy: busy, elapsed: elapsed) {
                self.intervalGauge.record(Double(self.pacing.interval.nanoseconds) / 1e9)
            }
            self.busyGauge.record(self.pacing.busyShare)
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
        self.batched { self.writeKeepalives(olderThan: age) }
    }

    private func writeKeepalives(olderThan age: TimeAmount) {
        let now = NIODeadline.now()
        for group in self.events.values {
            for stream in group.streams.values where now - stream.lastWriteAt >= age {
                guard let writer = stream.writer, stream.canWrite else { continue }
                _ = self.emit(to: stream, writer: writer, capacity: 16, flush: true) { buffer in
                    SSEEncoder.writeComment("keepalive", into: &buffer)
                }
                stream.lastWriteAt = now
            }
        }
    }
}
