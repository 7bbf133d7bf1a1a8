import Logging
import Redis
import ServiceLifecycle
import Synchronization

/// Follows one event's queue for this edge process: a swift-service-lifecycle `Service`.
///
/// It subscribes to `wr:{e}:ev`; on every message (ticks, `cfg`, `paused`, `resumed`, `soldout`,
/// `open`) and at least every ``EventTrackerConfiguration/refreshInterval`` it reads one atomic
/// snapshot with ``PositionScripts/snapshot`` (frontier, new departures, settings), applies it to
/// its ``PositionIndex`` and calls `onUpdate`. Triggers that arrive while a snapshot is read are
/// coalesced into one more read. The Redis work per trigger is one script call per event (plus
/// more only while a backlog of departures is read), never per local stream. When the departures
/// stream was trimmed past the cursor, it rebuilds from the waiting set (``PositionScripts/rebuild``).
///
/// Positions are answered locally and thread-safely by ``status(order:)``.
///
/// ```swift
/// let tracker = EventTracker(eventID: "e1", redis: redis, logger: logger) { update in
///     hub.update(eventID: update.eventID, receivedAt: update.receivedAt, urgentKeys: update.newlyAdmitted) { order in
///         streamUpdate(for: tracker.status(order: order))
///     }
/// }
/// ```
public final class EventTracker: Service, Sendable {
    private struct Progress {
        var started = 0
        var completed = 0
        var failures: [Int: String] = [:]
        var waiters: [(target: Int, continuation: CheckedContinuation<String?, Never>)] = []
    }

    /// The event followed.
    public let eventID: String
    /// The pub/sub channel of the event.
    public let channel: String
    private let redis: RedisClient
    private let configuration: EventTrackerConfiguration
    private let logger: Logger
    private let onUpdate: @Sendable (EventTrackerUpdate) -> Void
    private let keys: [RedisArgument]
    private let state: Mutex<EventPositionState>
    private let progress = Mutex(Progress())
    private let triggers: AsyncStream<ContinuousClock.Instant>
    private let triggerContinuation: AsyncStream<ContinuousClock.Instant>.Continuation
    private let origin = ContinuousClock.now

    /// A tracker of `eventID`; nothing happens until ``run()``. `onUpdate` is called after every
    /// applied snapshot, from the tracker's task, one call at a time.
    public init(
        eventID: String,
        redis: RedisClient,
        configuration: EventTrackerConfiguration = EventTrackerConfiguration(),
        logger: Logger,
        onUpdate: @escaping @Sendable (EventTrackerUpdate) -> Void
    ) {
        self.eventID = eventID
        self.channel = "wr:{\(eventID)}:ev"
        self.redis = redis
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "waitroom.event"] = "\(eventID)"
        self.logger = logger
        self.onUpdate = onUpdate
        self.keys = PositionScripts.keys(eventID: eventID)
        self.state = Mutex(EventPositionState(rate: AdmissionRateEstimator(halfLife: configuration.rateHalfLife)))
        (self.triggers, self.triggerContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Queries (any thread)

    /// The status of `order` from the local index: no Redis call.
    public func status(order: Int) -> OrderStatus {
        self.state.withLock { $0.status(order: order) }
    }

    /// The frontier as last read (`0` before the first read).
    public var frontier: Int { self.state.withLock { $0.index?.frontier ?? 0 } }

    /// What positions are computed from: the frontier and the departures counted past it. Local
    /// positions can only have changed when this did.
    public var positionBasis: (frontier: Int, departed: Int) {
        self.state.withLock { ($0.index?.frontier ?? 0, $0.index?.departedCount ?? 0) }
    }

    /// The settings as last read.
    public var settings: EventQueueSettings { self.state.withLock { $0.settings } }

    /// Whether the first snapshot has been applied.
    public var isLoaded: Bool { self.state.withLock { !$0.needsRebuild } }

    /// The admission rate (places/s) used for ETAs: measured, or the configured one until measured.
    public var admissionRate: Double {
        self.state.withLock { $0.rate.rate(configured: $0.settings.ratePerSecond) }
    }

    /// Asks for a snapshot now and waits until one that started after this call is applied.
    /// Requires ``run()`` to be running. Throws if that read failed.
    public func refreshNow() async throws {
        let target = self.progress.withLock { $0.started + 1 }
        self.triggerContinuation.yield(ContinuousClock.now)
        let failure: String? = await withCheckedContinuation { continuation in
            self.progress.withLock { progress in
                if progress.completed >= target {
                    continuation.resume(returning: progress.failures[target])
                } else {
                    progress.waiters.append((target, continuation))
                }
            }
        }
        if let failure {
            throw RedisError(code: .unavailable, message: "position snapshot failed: \(failure)")
        }
    }

    // MARK: Service

    /// Subscribes, refreshes on ticks and every second, until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen() }
                group.addTask { await self.timer() }
                group.addTask { await self.refreshLoop() }
                await group.next()
                group.cancelAll()
            }
        }
        self.triggerContinuation.finish()
    }

    private func listen() async {
        while !Task.isCancelled {
            let subscriber = self.redis.makeSubscriber()
            do {
                let messages = try await subscriber.subscribe(to: [self.channel], bufferingPolicy: .bufferingNewest(256))
                // Whatever happened before the subscription is caught up by a snapshot.
                self.triggerContinuation.yield(ContinuousClock.now)
                for await message in messages {
                    self.handle(message.text ?? "", receivedAt: ContinuousClock.now)
                }
            } catch {
                self.logger.warning("event subscription failed", metadata: ["error": "\(error)"])
            }
            await subscriber.close()
            try? await Task.sleep(for: self.configuration.resubscribeDelay)
        }
    }

    /// Handles one pub/sub message: ticks record when the frontier was reached; every message
    /// triggers a snapshot (settings, pause and sold-out states are read from `cfg` there).
    func handle(_ text: String, receivedAt: ContinuousClock.Instant) {
        let parts = text.split(separator: " ")
        if parts.first == "tick", parts.count >= 3, let frontier = Int(parts[1]), let atMs = Int64(parts[2]) {
            self.state.withLock { $0.recordTick(frontier: frontier, admittedAtMs: atMs) }
        }
        self.triggerContinuation.yield(receivedAt)
    }

    private func timer() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: self.configuration.refreshInterval)
            self.triggerContinuation.yield(ContinuousClock.now)
        }
    }

    private func refreshLoop() async {
        for await receivedAt in self.triggers {
            let number = self.progress.withLock { progress -> Int in
                progress.started += 1
                return progress.started
            }
            var failure: String?
            do {
                try await self.refresh(receivedAt: receivedAt)
            } catch {
                failure = "\(error)"
                self.logger.warning("position snapshot failed", metadata: ["error": "\(error)"])
            }
            self.progress.withLock { progress in
                progress.completed = number
                if let failure { progress.failures[number] = failure }
                progress.failures = progress.failures.filter { $0.key > number - 64 }
                progress.waiters.removeAll { waiter in
                    guard waiter.target <= number else { return false }
                    waiter.continuation.resume(returning: progress.failures[waiter.target])
                    return true
                }
            }
        }
    }

    /// Reads until the index is current (a rebuild if needed, then batches of departures), then
    /// reports once.
    private func refresh(receivedAt: ContinuousClock.Instant) async throws {
        let batch = max(1, self.configuration.departuresBatch)
        var previousFrontier: Int?
        var changes: [EventTrackerUpdate.Change] = []
        var applied: EventPositionState.Applied
        var rounds = 0
        repeat {
            rounds += 1
            let (rebuild, cursor) = self.state.withLock { ($0.needsRebuild, $0.cursor) }
            let snapshot: PositionSnapshot
            if rebuild {
                self.logger.debug("rebuilding positions from the waiting set")
                snapshot = try PositionSnapshot.parseRebuild(try await self.redis.eval(PositionScripts.rebuild, keys: self.keys))
            } else {
                let reply = try await self.redis.eval(
                    PositionScripts.snapshot, keys: self.keys, args: [RedisArgument(cursor), RedisArgument(batch)]
                )
                snapshot = try PositionSnapshot.parseSnapshot(reply)
            }
            let now = self.seconds(ContinuousClock.now)
            applied = self.state.withLock { $0.apply(snapshot, now: now, batchSize: batch) }
            if previousFrontier == nil && !applied.needsRebuild { previousFrontier = applied.previousFrontier }
            changes += applied.changes
        } while (applied.hasMore || applied.needsRebuild) && rounds < 1000
        let settings = self.settings
        self.onUpdate(EventTrackerUpdate(
            eventID: self.eventID,
            receivedAt: receivedAt,
            previousFrontier: previousFrontier ?? applied.previousFrontier,
            frontier: applied.frontier,
            settings: settings,
            changes: changes
        ))
    }

    private func seconds(_ instant: ContinuousClock.Instant) -> Double {
        let elapsed = instant - self.origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
