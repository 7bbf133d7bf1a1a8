import Glibc
import LoadKit
import NIOCore
import NIOHTTP1
import NIOPosix

/// The work of one SSE child process, run entirely on its single event loop: optional join phase,
/// ramped connects, hold, then a final report.
final class SSEWorker {
    private let plan: SSEWorkerPlan
    private let loop: EventLoop
    private let reports: ReportChannel
    private let counters = WorkerCounters()
    private let started = WallClock.monotonicSeconds()
    private var tickets: [String] = []
    private var opened = 0
    private var tasks: [RepeatedTask] = []
    private var done: EventLoopPromise<Void>
    private var finished = false

    init(plan: SSEWorkerPlan, loop: EventLoop, reports: ReportChannel) {
        self.plan = plan
        self.loop = loop
        self.reports = reports
        self.done = loop.makePromise()
    }

    /// Runs the worker; the future completes after the final report was written.
    func run() -> EventLoopFuture<Void> {
        self.loop.preconditionInEventLoop()
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        self.tasks.append(self.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.sendReport(final: false)
        })
        if let stopFile = self.plan.steadyStopFile {
            self.tasks.append(self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(20)) { task in
                guard access(stopFile, F_OK) == 0 else { return }
                bound.value.counters.steadyOpen = false
                task.cancel()
            })
        }
        self.loop.scheduleTask(in: .milliseconds(Int64(self.plan.maxDuration * 1000))) {
            bound.value.finish()
        }
        if let joinURL = self.plan.joinURL {
            self.joinPhase(url: joinURL).whenComplete { _ in bound.value.startRamp() }
        } else {
            self.startRamp()
        }
        return self.done.futureResult
    }

    private func elapsed() -> Double { WallClock.monotonicSeconds() - self.started }

    private func sendReport(final: Bool) {
        let report = self.counters.report(
            worker: self.plan.worker, target: self.plan.connections, elapsed: self.elapsed(), final: final)
        self.reports.deliver(report, completing: self.done)
    }

    private func finish() {
        guard !self.finished else { return }
        self.finished = true
        self.tasks.forEach { $0.cancel() }
        self.sendReport(final: true)
    }

    // MARK: Join phase

    private func joinPhase(url: URLTemplate) -> EventLoopFuture<Void> {
        let connector: Connector
        do {
            connector = try Connector(loop: self.loop, host: url.host, port: url.port, sourceAddresses: self.plan.sources.addresses)
        } catch {
            self.counters.error("bad join address: \(error)", worker: self.plan.worker)
            return self.loop.makeSucceededVoidFuture()
        }
        let pool = JoinPool(
            wantedTickets: self.plan.connections,
            deadline: .now() + .milliseconds(Int64(self.plan.maxDuration * 1000)),
            userPrefix: "\(self.plan.userPrefix)-w\(self.plan.worker)",
            connector: connector, counters: self.counters,
            path: url.path(["event": self.plan.event]), hostHeader: url.hostHeader, worker: self.plan.worker)
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        return pool.start(connections: self.plan.joinConcurrency).map { tickets in
            bound.value.tickets = tickets
            // The latency histogram is for stream frames; join latencies are `waitroom-load joins`' business.
            bound.value.counters.latency.reset()
        }
    }

    // MARK: Streams

    private func startRamp() {
        guard !self.finished else { return }
        let ramp = RampSchedule(target: self.plan.joinURL == nil ? self.plan.connections : min(self.plan.connections, self.tickets.count),
                                ratePerSecond: self.plan.ratePerSecond)
        let connector: Connector
        do {
            connector = try Connector(loop: self.loop, host: self.plan.streamURL.host, port: self.plan.streamURL.port,
                                      sourceAddresses: self.plan.sources.addresses)
        } catch {
            self.counters.error("bad address: \(error)", worker: self.plan.worker)
            self.finish()
            return
        }
        let rampStart = WallClock.monotonicSeconds()
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        let task = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(10)) { task in
            let worker = bound.value
            let due = ramp.due(after: WallClock.monotonicSeconds() - rampStart)
            while worker.opened < due {
                worker.openStream(worker.opened, connector: connector)
                worker.opened += 1
            }
            if worker.opened >= ramp.target {
                task.cancel()
                worker.loop.scheduleTask(in: .milliseconds(Int64(worker.plan.hold * 1000))) { bound.value.finish() }
            }
        }
        self.tasks.append(task)
    }

    private func openStream(_ i: Int, connector: Connector) {
        let global = self.plan.globalIndex(i)
        var values = [
            "event": self.plan.event, "i": String(global),
            "channel": "\(self.plan.channelPrefix)\(global % self.plan.channels)",
        ]
        if i < self.tickets.count { values["ticket"] = self.tickets[i] }
        let path = self.plan.streamURL.path(values)
        let host = self.plan.streamURL.hostHeader
        let worker = self.plan.worker
        let counters = NIOLoopBound(self.counters, eventLoop: self.loop)
        self.counters.attempted += 1
        connector.connect(
            sourceIndex: self.plan.sources.index(connection: i, worker: worker, workers: self.plan.workers)
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(
                    SSEStreamHandler(path: path, hostHeader: host, counters: counters.value, worker: worker))
            }
        }.whenFailure { error in
            counters.value.error("connect: \(error)", worker: worker)
        }
    }
}
