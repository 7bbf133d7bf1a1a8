import Glibc
import LoadKit
import NIOCore
import NIOPosix

/// The work of one `onsale-worker` child, on its single event loop: users arrive on a ramp, each
/// a `CheckoutUser`; a report goes to the coordinator every second; the worker ends when all its
/// users reached an end state, or at `--max-duration`.
final class OnsaleWorker {
    private let options: OnsaleOptions
    private let identity: WorkerIdentity
    private let loop: EventLoop
    private let reports: ReportChannel
    private let counters: OnsaleCounters
    private let started = WallClock.monotonicSeconds()
    private var users: [CheckoutUser] = []
    private var tasks: [RepeatedTask] = []
    private let done: EventLoopPromise<Void>
    private var finished = false
    private var finishedUsers = 0

    init(options: OnsaleOptions, identity: WorkerIdentity, loop: EventLoop, reports: ReportChannel) {
        self.options = options
        self.identity = identity
        self.loop = loop
        self.reports = reports
        self.counters = OnsaleCounters(worker: identity.workerIndex, epochMicros: options.epochMicros)
        self.done = loop.makePromise()
    }

    private var target: Int { self.identity.workerConnections }

    /// Runs the worker; the future completes after the final report was written.
    func run() -> EventLoopFuture<Void> {
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        let base: URLTemplate
        let connector: Connector
        do {
            base = try URLTemplate(self.options.url + "/")
            connector = try Connector(loop: self.loop, host: base.host, port: base.port,
                                      sourceAddresses: SourceAddressPool(count: self.options.sourceAddresses).addresses)
        } catch {
            self.counters.error("bad address", detail: "\(error)")
            self.finish()
            return self.done.futureResult
        }
        let shared = OnsaleUsers(loop: self.loop, connector: connector, counters: self.counters, options: self.options,
                                 hostHeader: base.hostHeader)
        shared.userFinished = { bound.value.userFinished() }
        self.tasks.append(self.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.sendReport(final: false)
        })
        self.loop.scheduleTask(in: .milliseconds(Int64(self.options.maxDuration * 1000))) { bound.value.finish() }

        let workers = max(self.identity.workers, 1)
        let ramp = RampSchedule(target: self.target, ratePerSecond: self.options.arrivalRate / Double(workers))
        let rampStart = WallClock.monotonicSeconds()
        let prefix = self.options.userPrefix
        let worker = self.identity.workerIndex
        self.tasks.append(self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(10)) { task in
            let w = bound.value
            let due = ramp.due(after: WallClock.monotonicSeconds() - rampStart)
            while w.users.count < due, !w.finished {
                let i = w.users.count
                // Users interleave across workers, so every worker has early and late arrivals.
                let user = CheckoutUser(users: shared, index: i * workers + worker, userID: "\(prefix)-\(i * workers + worker)")
                w.users.append(user)
                user.start()
            }
            if w.users.count >= ramp.target { task.cancel() }
        })
        if self.target == 0 { self.finish() }
        return self.done.futureResult
    }

    private func userFinished() {
        self.finishedUsers += 1
        if self.finishedUsers >= self.target { self.finish() }
    }

    private func sendReport(final: Bool) {
        let report = self.counters.report(target: self.target, attempted: self.users.count,
                                          elapsed: WallClock.monotonicSeconds() - self.started, final: final)
        self.reports.deliver(report, completing: self.done)
    }

    private func finish() {
        guard !self.finished else { return }
        self.finished = true
        self.tasks.forEach { $0.cancel() }
        self.sendReport(final: true)
    }
}
