import Edge
import Foundation
import Logging
import NIOCore
import Redis
import ServiceLifecycle
import Synchronization
import Tokens
import Waitroom

/// The `EventTracker`s of this process, one per event it serves, started on first use, and the
/// glue that turns their updates into SSE frames: positions (latest only), `admitted` with a
/// token this process signs itself, `paused`/`resumed`, `sold_out`. Also sends the edge
/// heartbeat for every tracked event so that a crashed process's streams count as closed.
final class TrackerRegistry: Service, Sendable {
    private let redis: RedisClient
    private let store: QueueStore
    private let hub: SSEHub
    private let keyring: SigningKeyring
    let edgeID: String
    private let logger: Logger
    private let trackers = Mutex<[String: EventTracker]>([:])
    private let pending: AsyncStream<EventTracker>
    private let pendingContinuation: AsyncStream<EventTracker>.Continuation

    /// The admission controller's tick (``AdmissionControllerConfiguration/tickInterval``).
    private let admissionTick: TimeAmount

    init(redis: RedisClient, store: QueueStore, hub: SSEHub, keyring: SigningKeyring, logger: Logger,
         admissionTick: Duration) {
        self.admissionTick = TimeAmount(admissionTick)
        self.redis = redis
        self.store = store
        self.hub = hub
        self.keyring = keyring
        self.edgeID = "edge-" + Crypto.hex(Crypto.randomBytes(6))
        self.logger = logger
        (pending, pendingContinuation) = AsyncStream.makeStream()
    }

    /// The tracker of `eventID`, started if new, loaded (one snapshot applied) before it returns.
    func tracker(for eventID: String) async throws -> EventTracker {
        let (tracker, isNew) = trackers.withLock { all -> (EventTracker, Bool) in
            if let existing = all[eventID] { return (existing, false) }
            let made = makeTracker(eventID)
            all[eventID] = made
            return (made, true)
        }
        if isNew { pendingContinuation.yield(tracker) }
        if !tracker.isLoaded { try await tracker.refreshNow() }
        return tracker
    }

    /// The tracker of `eventID` when it is running and loaded; `nil` otherwise (then use
    /// ``tracker(for:)``). For the event loop: no suspension.
    func loadedTracker(for eventID: String) -> EventTracker? {
        guard let tracker = trackers.withLock({ $0[eventID] }), tracker.isLoaded else { return nil }
        return tracker
    }

    private func makeTracker(_ eventID: String) -> EventTracker {
        // The update handler needs the tracker it belongs to; a box breaks the cycle.
        let box = Mutex<EventTracker?>(nil)

        let tracker = EventTracker(eventID: eventID, redis: redis, logger: logger) { [hub, keyring, self] update in
            guard let tracker = box.withLock({ $0 }) else { return }
            if update.changes.contains(.soldOut) || update.settings.soldOut {
                hub.broadcast(eventID: eventID, .final(SSEEvent(name: "sold_out", data: "{}")))
                return
            }
            // The lottery drew the pre-queue's places: end the pre-queue streams (keyed by
            // -seq, with no order yet); browsers reconnect and follow their drawn place.
            if self.opensNow(eventID, assigned: update.settings.ordersAssigned) {
                hub.broadcast(eventID: eventID, .final(SSEEvent(name: "opened", data: "{}")))
            }
            if update.changes.contains(.paused) { hub.broadcast(eventID: eventID, .latest(SSEEvent(name: "paused", data: "{}"))) }
            if update.changes.contains(.resumed) { hub.broadcast(eventID: eventID, .latest(SSEEvent(name: "resumed", data: "{}"))) }
            let basis = tracker.positionBasis
            let tickMicros = self.noteBasis(eventID, basis)
            let moved = self.noteWalked(eventID, basis)
            // The tracker reports every snapshot (on ticks and once a second). When neither the
            // frontier nor the departures moved, no position changed: a walk would resolve every
            // stream and send nothing (measured: a second walk a second over every stream, most
            // of it deferring streams not yet due). Only streams opened since the last walk are
            // looked at again; streams waiting for their interval or for writability have timers
            // and hooks of their own.
            let resolve: SSEHub.Resolver = { order in
                QueuePresenter.streamUpdate(eventID: eventID, order: order, status: tracker.status(order: order),
                                            keyring: keyring, tickMicros: tickMicros)
            }
            if moved || update.newlyAdmitted != nil {
                // Admitting at least one place per admission tick moves every position on every
                // tick: the hub may spread the opening burst at once (see SSEHub.update).
                let settings = update.settings
                let everyTick = !settings.paused && settings.ratePerSecond * Double(self.admissionTick.nanoseconds) / 1e9 >= 1
                hub.update(eventID: eventID, receivedAt: update.receivedAt, urgentKeys: update.newlyAdmitted,
                           tickPeriod: everyTick ? self.admissionTick : nil, resolve: resolve)
            } else {
                hub.refresh(eventID: eventID, resolve: resolve)
            }
        }
        box.withLock { $0 = tracker }
        return tracker
    }

    /// When this process saw the positions of each event change last (the frontier moved or
    /// departures ahead were applied): the `ts` of position frames, so a frame's delay is measured
    /// from the change it shows. It changes only with the positions' basis.
    private let basisSeen = Mutex<[String: (frontier: Int, departed: Int, micros: Int64)]>([:])

    private func noteBasis(_ eventID: String, _ basis: (frontier: Int, departed: Int)) -> Int64 {
        basisSeen.withLock { all in
            if let seen = all[eventID], seen.frontier == basis.frontier, seen.departed == basis.departed { return seen.micros }
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            all[eventID] = (basis.frontier, basis.departed, now)
            return now
        }
    }

    /// The basis of each event's last hub walk (only the tracker's update handler touches it;
    /// first frames read ``basisSeen``, which must not hide a change from the next walk).
    private let walkedBasis = Mutex<[String: (frontier: Int, departed: Int)]>([:])

    /// Records `basis` as walked; `true` when it differs from the last one walked (or is the first).
    private func noteWalked(_ eventID: String, _ basis: (frontier: Int, departed: Int)) -> Bool {
        walkedBasis.withLock { all in
            if let last = all[eventID], last.frontier == basis.frontier, last.departed == basis.departed { return false }
            all[eventID] = basis
            return true
        }
    }

    private let ordersAssigned = Mutex<[String: Bool]>([:])

    /// True when this process sees the orders of `eventID` go from unassigned (pre-queue) to
    /// assigned (the lottery ran): once per opening, never for an event that was always open.
    private func opensNow(_ eventID: String, assigned: Bool) -> Bool {
        ordersAssigned.withLock { all in
            let before = all[eventID]
            all[eventID] = assigned
            return before == false && assigned
        }
    }

    /// The `ts` for a first frame of `eventID` (that of the positions the tracker has now).
    func positionTimestamp(_ tracker: EventTracker) -> Int64 {
        noteBasis(tracker.eventID, tracker.positionBasis)
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeats() }
            for await tracker in pending.cancelOnGracefulShutdown() {
                group.addTask {
                    do { try await tracker.run() } catch {
                        self.logger.error("event tracker stopped", metadata: ["waitroom.event": "\(tracker.eventID)", "error": "\(error)"])
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// One heartbeat per tracked event every 2 s: Redis work per event, not per stream.
    private func heartbeats() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            let events = trackers.withLock { Array($0.keys) }
            for event in events {
                try? await store.heartbeat(event: event, edgeID: edgeID, now: Int64(Date().timeIntervalSince1970 * 1000))
            }
        }
    }

    func shutdown() {
        pendingContinuation.finish()
    }
}
