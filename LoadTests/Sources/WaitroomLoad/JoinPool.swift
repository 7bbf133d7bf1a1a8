import LoadKit
import NIOCore
import NIOHTTP1

/// A fixed number of keep-alive join connections that reopen when closed while work remains.
///
/// Confined to the worker's event loop. Used by the join phase of `sse-worker` (until it holds a
/// ticket per stream) and by `joins-worker` (until its deadline).
final class JoinPool {
    let driver: JoinDriver
    private let connector: Connector
    private let counters: WorkerCounters
    private let path: String
    private let hostHeader: String
    private let worker: Int
    private let promise: EventLoopPromise<[String]>
    private var completed = false

    init(wantedTickets: Int?, deadline: NIODeadline, userPrefix: String, connector: Connector,
         counters: WorkerCounters, path: String, hostHeader: String, worker: Int) {
        self.connector = connector
        self.counters = counters
        self.path = path
        self.hostHeader = hostHeader
        self.worker = worker
        self.promise = connector.loop.makePromise()
        self.driver = JoinDriver(deadline: deadline, wantedTickets: wantedTickets, userPrefix: userPrefix)
    }

    /// Opens `connections` connections; the future gives the tickets once the driver is done
    /// (all tickets in, or the deadline passed).
    func start(connections: Int) -> EventLoopFuture<[String]> {
        let loop = self.connector.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        self.driver.whenDone = { bound.value.complete() }
        loop.scheduleTask(deadline: self.driver.deadline) { bound.value.complete() }
        for slot in 0..<connections { self.open(slot: slot) }
        return self.promise.futureResult
    }

    private func complete() {
        guard !self.completed else { return }
        self.completed = true
        self.promise.succeed(self.driver.tickets)
    }

    /// Opens the connection of `slot`, and again whenever it closes before the driver is done.
    private func open(slot: Int) {
        guard !self.driver.isDone else { return }
        let loop = self.connector.loop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let (path, host, worker) = (self.path, self.hostHeader, self.worker)
        self.counters.attempted += 1
        self.connector.connect(sourceIndex: slot) { channel in
            channel.eventLoop.makeCompletedFuture {
                let pool = bound.value
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(JoinRequester(
                    path: path, hostHeader: host, counters: pool.counters, driver: pool.driver, worker: worker))
            }
        }.flatMap { channel in
            channel.closeFuture
        }.whenComplete { result in
            let pool = bound.value
            if case .failure(let error) = result { pool.counters.error("join connect: \(error)", worker: worker) }
            guard !pool.driver.isDone else { return }
            loop.scheduleTask(in: .milliseconds(50)) { bound.value.open(slot: slot) }
        }
    }
}
