import Logging
import NIOCore
import Synchronization

/// Cluster mode of ``RedisClient``: routes each command to the master of its keys' slot over a
/// connection pool per node, follows `MOVED` and `ASK`, retries `TRYAGAIN`/`CLUSTERDOWN`.
///
/// The slot map is loaded with `CLUSTER SLOTS` from any known node before the first command, and
/// reloaded in the background (at most once per ``RedisConfiguration/clusterRefreshInterval``)
/// after a `MOVED`, an unserved slot or an unreachable node. A `MOVED` also updates its one slot
/// at once, so the retry and the commands after it go to the right node without waiting.
final class RedisClusterRouter: Sendable {
    private struct State {
        var map = RedisSlotMap()
        var pools: [RedisEndpoint: RedisConnectionPool] = [:]
        var loading: EventLoopFuture<Void>?
        var lastLoad: NIODeadline = .distantPast
        var statistics = RedisClusterStatistics()
        var closed = false
    }

    private let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let metrics: RedisMetrics
    private let retryBackoff: RedisBackoff
    private let state = Mutex(State())
    private let nextNode = Atomic<Int>(0)

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger, metrics: RedisMetrics) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.metrics = metrics
        self.retryBackoff = RedisBackoff(minimum: configuration.clusterRetryBackoffMin, maximum: configuration.clusterRetryBackoffMax)
    }

    /// What the router did so far.
    var statistics: RedisClusterStatistics { state.withLock { $0.statistics } }

    /// The master that serves `slot` in the current map (`nil` before the map is loaded).
    func node(forSlot slot: Int) -> RedisEndpoint? { state.withLock { $0.map.node(forSlot: slot) } }

    /// The masters of the current map, then the seeds not among them: where a subscriber may
    /// connect (Redis 7 delivers `PUBLISH` to subscribers on every node).
    func knownNodes() -> [RedisEndpoint] {
        var nodes = state.withLock { $0.map.masters }
        for seed in configuration.clusterNodes where !nodes.contains(seed) { nodes.append(seed) }
        return nodes
    }

    /// Sends `commands` and returns one reply per command, in the callers' order. Commands for
    /// one node go in one pipelined write; replies that are redirects are followed one by one.
    /// `routes`, when given, overrides the route of each command.
    func execute(_ commands: [[RedisArgument]], routes: [RedisCommandRoute]? = nil, timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
        guard !state.withLock({ $0.closed }) else {
            return eventLoopGroup.any().makeFailedFuture(RedisError(code: .clientClosed, message: "Redis client closed"))
        }
        let routes = routes ?? commands.map(RedisCommandRoute.of)
        if let loading = loadIfEmpty() {
            return loading.flatMap { self.dispatch(commands, routes: routes, timeout: timeout) }
        }
        return dispatch(commands, routes: routes, timeout: timeout)
    }

    /// Closes every node's connections gracefully.
    func close() async {
        let pools = state.withLock { state -> [RedisConnectionPool] in
            state.closed = true
            return Array(state.pools.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { await pool.close() } }
        }
    }

    // MARK: - Dispatch

    private struct Group {
        var node: RedisEndpoint
        var indices: [Int]
    }

    private func dispatch(_ commands: [[RedisArgument]], routes: [RedisCommandRoute], timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
        var groups: [Group] = []
        var alone: [Int] = []
        var anyNode: RedisEndpoint?
        state.withLock { state in
            for (index, route) in routes.enumerated() {
                let node: RedisEndpoint?
                switch route {
                case .slot(let slot):
                    node = state.map.node(forSlot: slot)
                case .anyNode:
                    if anyNode == nil { anyNode = pickAnyNode(state) }
                    node = anyNode
                case .allMasters, .crossSlot:
                    node = nil
                }
                guard let node else {
                    alone.append(index)
                    continue
                }
                if let existing = groups.firstIndex(where: { $0.node == node }) {
                    groups[existing].indices.append(index)
                } else {
                    groups.append(Group(node: node, indices: [index]))
                }
            }
        }

        var parts: [EventLoopFuture<[(Int, RedisValue)]>] = groups.map { group in
            sendGroup(group, commands: commands, routes: routes, timeout: timeout)
        }
        for index in alone {
            parts.append(sendAlone(commands[index], route: routes[index], timeout: timeout).map { [(index, $0)] })
        }
        if parts.count == 1 {
            return parts[0].map { pairs in pairs.count == 1 ? [pairs[0].1] : Self.ordered(pairs, count: commands.count) }
        }
        let eventLoop = parts[0].eventLoop
        return EventLoopFuture.whenAllSucceed(parts, on: eventLoop).map { Self.ordered($0.flatMap { $0 }, count: commands.count) }
    }

    private static func ordered(_ pairs: [(Int, RedisValue)], count: Int) -> [RedisValue] {
        var replies = [RedisValue](repeating: .null, count: count)
        for (index, value) in pairs { replies[index] = value }
        return replies
    }

    /// The commands of one node in one write; redirected replies are followed one by one.
    private func sendGroup(_ group: Group, commands: [[RedisArgument]], routes: [RedisCommandRoute], timeout: TimeAmount) -> EventLoopFuture<[(Int, RedisValue)]> {
        let node = group.node
        return send(group.indices.map { commands[$0] }, to: node, timeout: timeout).flatMap { replies in
            var done: [(Int, RedisValue)] = []
            done.reserveCapacity(replies.count)
            var followed: [EventLoopFuture<(Int, RedisValue)>] = []
            for (position, reply) in replies.enumerated() {
                let index = group.indices[position]
                var machine = self.makeStateMachine()
                switch machine.replyReceived(reply, from: node) {
                case .deliver(let value):
                    done.append((index, value))
                case let action:
                    followed.append(self.perform(action, commands[index], route: routes[index], machine, timeout: timeout).map { (index, $0) })
                }
            }
            let delivered = done
            guard !followed.isEmpty else { return self.eventLoopGroup.any().makeSucceededFuture(delivered) }
            return EventLoopFuture.whenAllSucceed(followed, on: followed[0].eventLoop).map { delivered + $0 }
        }
    }

    /// A command that is not sent with others: every master, refused, or a slot without a node.
    private func sendAlone(_ command: [RedisArgument], route: RedisCommandRoute, timeout: TimeAmount) -> EventLoopFuture<RedisValue> {
        switch route {
        case .crossSlot(let message):
            state.withLock { $0.statistics.refusedCrossSlot += 1 }
            return eventLoopGroup.next().makeSucceededFuture(.error(message))
        case .allMasters:
            let masters = state.withLock { $0.map.masters }
            guard !masters.isEmpty else {
                return eventLoopGroup.next().makeFailedFuture(RedisError(code: .unavailable, message: "no Redis Cluster master known"))
            }
            let sent = masters.map { send([command], to: $0, timeout: timeout).map { $0[0] } }
            // Every master must have done it: the first error reply wins, else the first reply.
            return EventLoopFuture.whenAllSucceed(sent, on: sent[0].eventLoop).map { replies in
                replies.first { $0.errorMessage != nil } ?? replies[0]
            }
        case .slot, .anyNode:
            return attempt(command, route: route, makeStateMachine(), timeout: timeout)
        }
    }

    // MARK: - One command, redirected

    private func makeStateMachine() -> RedisClusterRequestStateMachine {
        RedisClusterRequestStateMachine(
            maxRedirects: configuration.clusterMaxRedirects,
            maxRetries: configuration.clusterMaxRetries,
            retryBackoff: retryBackoff
        )
    }

    /// Routes `command` by the current map and sends it.
    private func attempt(_ command: [RedisArgument], route: RedisCommandRoute, _ machine: RedisClusterRequestStateMachine, timeout: TimeAmount) -> EventLoopFuture<RedisValue> {
        let node: RedisEndpoint? = state.withLock { state in
            switch route {
            case .slot(let slot): return state.map.node(forSlot: slot)
            default: return pickAnyNode(state)
            }
        }
        guard let node else {
            guard case .slot(let slot) = route else {
                return eventLoopGroup.next().makeFailedFuture(RedisError(code: .unavailable, message: "no Redis Cluster node known"))
            }
            var machine = machine
            let action = machine.slotUnserved(slot)
            return perform(action, command, route: route, machine, timeout: timeout)
        }
        return attempt(command, on: node, asking: false, route: route, machine, timeout: timeout)
    }

    /// Sends `command` to `node` (after `ASKING` when `asking`) and acts on the reply.
    private func attempt(
        _ command: [RedisArgument], on node: RedisEndpoint, asking: Bool, route: RedisCommandRoute,
        _ machine: RedisClusterRequestStateMachine, timeout: TimeAmount
    ) -> EventLoopFuture<RedisValue> {
        let sent = asking
            ? send([["ASKING"], command], to: node, timeout: timeout).map { $0[1] }
            : send([command], to: node, timeout: timeout).map { $0[0] }
        return sent.flatMap { reply in
            var machine = machine
            let action = machine.replyReceived(reply, from: node)
            return self.perform(action, command, route: route, machine, timeout: timeout)
        }
    }

    private func perform(
        _ action: RedisClusterRequestStateMachine.Action, _ command: [RedisArgument], route: RedisCommandRoute,
        _ machine: RedisClusterRequestStateMachine, timeout: TimeAmount
    ) -> EventLoopFuture<RedisValue> {
        switch action {
        case .deliver(let reply):
            return eventLoopGroup.any().makeSucceededFuture(reply)
        case .moved(let slot, let node):
            state.withLock { state in
                state.map.assign(slot: slot, to: node)
                state.statistics.moved += 1
            }
            metrics.clusterMoved.increment()
            logger.debug("redis: MOVED", metadata: ["redis.slot": "\(slot)", "redis.node": "\(node)"])
            requestLoad()
            return attempt(command, on: node, asking: false, route: route, machine, timeout: timeout)
        case .ask(let node):
            state.withLock { $0.statistics.asked += 1 }
            metrics.clusterAsk.increment()
            return attempt(command, on: node, asking: true, route: route, machine, timeout: timeout)
        case .retry(let delay):
            state.withLock { $0.statistics.retried += 1 }
            metrics.clusterRetries.increment()
            requestLoad()
            let eventLoop = eventLoopGroup.any()
            return eventLoop.scheduleTask(in: delay) {}.futureResult.flatMap {
                self.attempt(command, route: route, machine, timeout: timeout)
            }
        }
    }

    // MARK: - Nodes

    private func send(_ commands: [[RedisArgument]], to node: RedisEndpoint, timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
        let future = pool(for: node).execute(commands, timeout: timeout)
        future.whenFailure { error in
            // A node that cannot be reached may have been replaced: look at the map again.
            if let error = error as? RedisError, error.code == .unavailable { self.requestLoad() }
        }
        return future
    }

    private func pool(for node: RedisEndpoint) -> RedisConnectionPool {
        state.withLock { state in
            if let pool = state.pools[node] { return pool }
            var logger = logger
            logger[metadataKey: "redis.node"] = "\(node)"
            let pool = RedisConnectionPool(configuration: configuration.node(node), eventLoopGroup: eventLoopGroup, logger: logger, metrics: metrics)
            state.pools[node] = pool
            return pool
        }
    }

    /// A master for a keyless command, round-robin, preferring nodes with a live connection.
    private func pickAnyNode(_ state: State) -> RedisEndpoint? {
        let nodes = state.map.isEmpty ? configuration.clusterNodes : state.map.nodes
        guard !nodes.isEmpty else { return nil }
        let start = nextNode.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        for offset in 0..<nodes.count {
            let node = nodes[(start &+ offset) % nodes.count]
            if state.pools[node]?.isConnected == true { return node }
        }
        return nodes[start % nodes.count]
    }

    // MARK: - Slot map

    /// `nil` when a map is loaded; else the load to wait for (started when none runs).
    private func loadIfEmpty() -> EventLoopFuture<Void>? {
        let (future, start) = state.withLock { state -> (EventLoopFuture<Void>?, EventLoopPromise<Void>?) in
            guard state.map.isEmpty else { return (nil, nil) }
            if let loading = state.loading { return (loading, nil) }
            let promise = eventLoopGroup.any().makePromise(of: Void.self)
            state.loading = promise.futureResult
            return (promise.futureResult, promise)
        }
        if let start { load(into: start) }
        return future
    }

    /// Reloads the map in the background unless a load runs or one started less than
    /// ``RedisConfiguration/clusterRefreshInterval`` ago.
    private func requestLoad() {
        let start = state.withLock { state -> EventLoopPromise<Void>? in
            guard !state.closed, state.loading == nil,
                  NIODeadline.now() - state.lastLoad >= configuration.clusterRefreshInterval else { return nil }
            let promise = eventLoopGroup.any().makePromise(of: Void.self)
            state.loading = promise.futureResult
            return promise
        }
        if let start { load(into: start) }
    }

    /// Asks the known nodes for `CLUSTER SLOTS` in turn until one answers.
    private func load(into promise: EventLoopPromise<Void>) {
        state.withLock { $0.lastLoad = .now() }
        let candidates = knownNodes()
        @Sendable func ask(_ index: Int, lastError: (any Error)?) {
            guard index < candidates.count else {
                state.withLock { $0.loading = nil }
                let why = lastError.map { "\($0)" } ?? "no node known"
                logger.warning("redis: cannot load the cluster slot map", metadata: ["redis.error": "\(why)"])
                promise.fail(RedisError(code: .unavailable, message: "cannot load the Redis Cluster slot map: \(why)"))
                return
            }
            let node = candidates[index]
            pool(for: node).execute([["CLUSTER", "SLOTS"]], timeout: configuration.commandTimeout)
                .flatMapThrowing { replies -> RedisSlotMap in
                    if let error = replies[0].serverError { throw error }
                    let map = try RedisSlotMap(clusterSlots: replies[0], replyingNode: node)
                    guard !map.isEmpty else { throw RedisError(code: .unavailable, message: "\(node) serves no slot yet") }
                    return map
                }
                .whenComplete { result in
                    switch result {
                    case .success(let map):
                        self.state.withLock { state in
                            state.map = map
                            state.loading = nil
                            state.statistics.slotMapLoads += 1
                        }
                        self.metrics.clusterRefreshes.increment()
                        self.logger.debug("redis: cluster slot map loaded", metadata: ["redis.node": "\(node)", "redis.masters": "\(map.nodes.count)"])
                        promise.succeed(())
                    case .failure(let error):
                        ask(index + 1, lastError: error)
                    }
                }
        }
        ask(0, lastError: nil)
    }
}
