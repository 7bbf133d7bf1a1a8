import Logging
import Metrics
import ServiceLifecycle
import Tokens

/// The admitter: per process, for every event with a queue, tries to hold the event's lease and,
/// while it does, runs `admit` every tick, `sweep` every second and opens the lottery when due.
///
/// Exactly one process admits per event: the lease (`SET NX PX`, renewed every tick by
/// compare-and-extend) picks it, and `admit` is fenced on the lease inside Redis, so a process
/// that lost its lease (paused, partitioned, slow) admits nobody even if it still thinks it leads.
///
/// Metrics: `waitroom_admitted_total{event}`, `waitroom_waiting{event}`, `waitroom_active{event}`
/// (from each tick's script reply) and `waitroom_admission_ticks_total`.
public final class AdmissionController: Service, Sendable {
    /// This process's lease id (unique per controller).
    public let leaseID: String
    private let store: QueueStore
    private let configuration: AdmissionControllerConfiguration
    private let logger: Logger
    private let ticks: Counter
    private let executor: (any TaskExecutor)?

    /// One event's role and metric handles (created once per event).
    private struct EventSlot: Sendable {
        var machine: AdmissionStateMachine
        var logger: Logger
        var failing = false
        let admitted: Counter
        let waiting: Gauge
        let active: Gauge
    }

    /// A controller over `store`; `leaseID` defaults to a random id. With `executor` the whole
    /// admitter (its ticks, its Redis replies, its sleeps) runs there: give it a loop of its own
    /// and a `store` whose client uses that loop, and ticks keep time on a saturated machine.
    public init(
        store: QueueStore,
        configuration: AdmissionControllerConfiguration = .init(),
        logger: Logger,
        leaseID: String? = nil,
        executor: (any TaskExecutor)? = nil
    ) {
        self.executor = executor
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.leaseID = leaseID ?? "admitter-" + Crypto.hex(Crypto.randomBytes(8))
        self.ticks = Counter(label: "waitroom_admission_ticks_total")
    }

    /// Runs until cancelled or until graceful shutdown; then gives held leases up when
    /// ``AdmissionControllerConfiguration/releaseLeasesOnShutdown`` is set.
    public func run() async throws {
        guard let executor else { return try await runHere() }
        try await withTaskExecutorPreference(executor) { try await self.runHere() }
    }

    private func runHere() async throws {
        let slots = await cancelWhenGracefulShutdown { await self.loop() }
        guard configuration.releaseLeasesOnShutdown else { return }
        for (event, slot) in slots where slot.machine.isLeader {
            if (try? await store.releaseLease(event: event, leaseID: leaseID)) == true {
                slot.logger.info("admission: lease released")
            }
        }
    }

    private func loop() async -> [String: EventSlot] {
        let clock = ContinuousClock()
        var slots: [String: EventSlot] = [:]
        var nextDiscovery = clock.now
        var nextTick = clock.now
        while !Task.isCancelled {
            let now = clock.now
            if now >= nextDiscovery {
                nextDiscovery = now + configuration.discoveryInterval
                await discover(into: &slots, now: now)
            }
            let current = slots
            let updated = await withTaskGroup(of: (String, EventSlot).self) { group in
                for (event, slot) in current {
                    group.addTask { (event, await self.step(event: event, slot: slot, now: now)) }
                }
                var updated: [String: EventSlot] = [:]
                for await (event, slot) in group { updated[event] = slot }
                return updated
            }
            slots = updated
            nextTick = nextTick + configuration.tickInterval
            if nextTick < clock.now { nextTick = clock.now + configuration.tickInterval }
            do {
                try await Task.sleep(until: nextTick, clock: clock)
            } catch {
                break
            }
        }
        return slots
    }

    private func discover(into slots: inout [String: EventSlot], now: ContinuousClock.Instant) async {
        let events: [String]
        if let fixed = configuration.events {
            events = fixed
        } else {
            do {
                events = try await store.events()
            } catch {
                logger.warning("admission: cannot list events", metadata: ["error": "\(error)"])
                return
            }
        }
        for event in events where slots[event] == nil {
            var eventLogger = logger
            eventLogger[metadataKey: "waitroom.event"] = "\(event)"
            slots[event] = EventSlot(
                machine: AdmissionStateMachine(
                    now: now, leaseTTL: configuration.leaseTTL,
                    acquireInterval: configuration.acquireInterval, sweepInterval: configuration.sweepInterval
                ),
                logger: eventLogger,
                admitted: Counter(label: "waitroom_admitted_total", dimensions: [("event", event)]),
                waiting: Gauge(label: "waitroom_waiting", dimensions: [("event", event)]),
                active: Gauge(label: "waitroom_active", dimensions: [("event", event)])
            )
        }
        let known = Set(events)
        for event in slots.keys where !known.contains(event) {
            if slots[event]?.machine.isLeader == true {
                _ = try? await store.releaseLease(event: event, leaseID: leaseID)
            }
            slots[event] = nil
        }
    }

    private func step(event: String, slot: EventSlot, now: ContinuousClock.Instant) async -> EventSlot {
        var slot = slot
        let ttl = configuration.leaseTTLMilliseconds
        do {
            switch slot.machine.tick(now: now) {
            case .none:
                break
            case .acquireLease:
                let held = try await store.acquireLease(event: event, leaseID: leaseID, ttlMilliseconds: ttl)
                if slot.machine.leaseAnswered(held: held, sentAt: now) {
                    slot.logger.info("admission: leading", metadata: ["waitroom.lease": "\(leaseID)"])
                }
            case .lead(let sweep):
                let held = try await store.renewLease(event: event, leaseID: leaseID, ttlMilliseconds: ttl)
                slot.machine.leaseAnswered(held: held, sentAt: now)
                guard held else {
                    slot.logger.warning("admission: lease lost; stopping", metadata: ["waitroom.lease": "\(leaseID)"])
                    break
                }
                ticks.increment()
                switch try await store.admit(event: event, leaseID: leaseID, limit: configuration.admitBatchLimit) {
                case .fenced:
                    slot.machine.leaseLost(now: now)
                    slot.logger.warning("admission: tick fenced; stopping", metadata: ["waitroom.lease": "\(leaseID)"])
                case .notConfigured:
                    break
                case .ran(let result):
                    if result.admitted > 0 { slot.admitted.increment(by: result.admitted) }
                    slot.waiting.record(result.waiting)
                    slot.active.record(result.active)
                    if result.openDue {
                        switch try await store.open(event: event, leaseID: leaseID) {
                        case .opened(let cohort, let seed):
                            slot.logger.info("admission: line opened", metadata: ["waitroom.cohort": "\(cohort)", "waitroom.seed": "\(seed)"])
                        case .fenced:
                            slot.machine.leaseLost(now: now)
                        case .alreadyOpen:
                            break
                        }
                    }
                    if sweep {
                        let swept = try await store.sweep(event: event, batch: configuration.sweepBatchLimit)
                        if swept.abandoned > 0 || swept.deadEdges > 0 {
                            slot.logger.debug("admission: swept", metadata: [
                                "waitroom.abandoned": "\(swept.abandoned)", "waitroom.deadEdges": "\(swept.deadEdges)",
                            ])
                        }
                    }
                }
            }
            if slot.failing {
                slot.failing = false
                slot.logger.info("admission: Redis answers again")
            }
        } catch {
            // Once per outage, not once per tick.
            if !slot.failing {
                slot.failing = true
                slot.logger.warning("admission: tick failed", metadata: ["error": "\(error)"])
            }
        }
        return slot
    }
}
