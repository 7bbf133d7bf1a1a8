import Logging
import NIOCore
import Synchronization

/// The pooled, pipelined connections to one Redis server: requests go round-robin to a
/// connected connection (a connecting or reconnecting one only when none is connected).
final class RedisConnectionPool: Sendable {
    /// The server and settings of every connection of the pool.
    let configuration: RedisConfiguration
    private let slots: [RedisPoolSlot]
    private let metrics: RedisMetrics
    private let nextSlot = Atomic<Int>(0)

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger, metrics: RedisMetrics) {
        self.configuration = configuration
        self.metrics = metrics
        self.slots = (0..<max(1, configuration.poolSize)).map { index in
            RedisPoolSlot(index: index, eventLoop: eventLoopGroup.next(), configuration: configuration, logger: logger, metrics: metrics)
        }
    }

    /// `true` when at least one connection is connected.
    var isConnected: Bool { slots.contains { $0.isConnected } }

    /// Sends `commands` in one write on one connection; one reply per command, in order (error
    /// replies are values). Fails as a whole on timeout, connection loss or when unavailable.
    func execute(_ commands: [[RedisArgument]], timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
        let slot = pickSlot()
        let future: EventLoopFuture<[RedisValue]>
        switch slot.acquire() {
        case .ready(let connection):
            future = connection.send(commands, timeout: timeout)
        case .pending(let connecting):
            future = connecting.flatMap { $0.send(commands, timeout: timeout) }
        case .failed(let error):
            metrics.commandErrors.increment(by: commands.count)
            return slot.eventLoop.makeFailedFuture(error)
        }
        metrics.commands.increment(by: commands.count)
        let metrics = self.metrics
        future.whenFailure { _ in metrics.commandErrors.increment(by: commands.count) }
        return future
    }

    /// Closes every connection gracefully (in-flight commands get their replies first).
    func close() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in slots {
                group.addTask { await slot.close() }
            }
        }
    }

    private func pickSlot() -> RedisPoolSlot {
        let count = slots.count
        let start = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        for offset in 0..<count {
            let slot = slots[(start &+ offset) % count]
            if slot.isConnected { return slot }
        }
        return slots[start % count]
    }
}
