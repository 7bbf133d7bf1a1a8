import NIOCore
import Redis
import Tokens

/// The Redis side of the queue: every operation is one atomic script (``QueueScripts``).
///
/// Redis errors (down, timeout) are thrown as `RedisError` unchanged; domain outcomes are
/// ``WaitroomError``s. Times are unix milliseconds; `nil` means Redis `TIME`.
public struct QueueStore: Sendable {
    /// The client every call goes through.
    public let client: RedisClient

    /// A store over `client`.
    public init(client: RedisClient) {
        self.client = client
    }

    // MARK: - Settings

    /// Writes the settings of `event` and registers it in `wr:events`. At the first configure
    /// with `opensAt` in the future a lottery seed is drawn (kept secret in Redis until opening;
    /// its SHA1 is public at once). Returns `true` when the event was created.
    @discardableResult
    public func configure(event: String, settings: QueueSettings, now: Int64? = nil) async throws -> Bool {
        try settings.validate()
        let keys = QueueKeys(event: event)
        let seed = Crypto.hex(Crypto.randomBytes(16))
        let seedHash = Crypto.hex(Crypto.sha1(Array(seed.utf8)))
        let reply = try await run(QueueScripts.configure, keys, [
            RedisArgument(Self.decimal(settings.ratePerSecond)), RedisArgument(settings.maxActive),
            RedisArgument(settings.sessionSeconds), settings.paused ? "1" : "0",
            RedisArgument(settings.abandonAfterSeconds), RedisArgument(settings.opensAtMilliseconds),
            RedisArgument(seedHash), RedisArgument(seed), RedisArgument(now ?? 0),
        ])
        try Self.expectOK(reply)
        _ = try await client.send("SADD", RedisArgument(QueueKeys.events), RedisArgument(event))
        return reply.array?[1].int == 1
    }

    /// The stored settings of `event`, or `nil` when it has none.
    public func settings(event: String) async throws -> QueueSettings? {
        let reply = try await client.send("HGETALL", RedisArgument(QueueKeys(event: event).cfg))
        let cfg = Self.hash(reply)
        guard let rate = cfg["rate"].flatMap(Double.init) else { return nil }
        return QueueSettings(
            ratePerSecond: rate,
            maxActive: cfg["maxActive"].flatMap { Int($0) } ?? 0,
            sessionSeconds: cfg["sessionSeconds"].flatMap { Int($0) } ?? 0,
            paused: cfg["paused"] == "1",
            abandonAfterSeconds: cfg["abandonAfter"].flatMap { Int($0) } ?? 0,
            opensAtMilliseconds: cfg["opensAt"].flatMap { Int64($0) } ?? 0
        )
    }

    /// Events that have a queue (`wr:events`).
    public func events() async throws -> [String] {
        let reply = try await client.send("SMEMBERS", RedisArgument(QueueKeys.events))
        return (reply.array ?? []).compactMap(\.string).sorted()
    }

    /// Marks `event` sold out (joins fail with ``WaitroomError/Code/soldOut``, nobody more is
    /// admitted) and publishes `soldout`. Returns `true` the first time.
    @discardableResult
    public func markSoldOut(event: String) async throws -> Bool {
        try await run(QueueScripts.soldOut, QueueKeys(event: event), []).int == 1
    }

    // MARK: - Places

    /// A new place for `userId` (or for an anonymous caller when `nil`), or that user's existing
    /// place. Throws ``WaitroomError`` `.notConfigured` / `.soldOut`.
    public func join(event: String, userId: String? = nil, now: Int64? = nil) async throws -> JoinResult {
        try await joinBatch(event: event, userIds: [userId], now: now).get()[0]
    }

    /// The joins of one batch (``JoinBatcher``), in order, in one script call: one result per
    /// entry of `userIds`, as if they had joined one after the other. Fails as a whole with
    /// ``WaitroomError`` `.notConfigured` / `.soldOut`, or with the Redis error.
    /// At most ``maxJoinBatch`` entries.
    public func joinBatch(event: String, userIds: [String?], now: Int64? = nil) -> EventLoopFuture<[JoinResult]> {
        precondition(!userIds.isEmpty && userIds.count <= Self.maxJoinBatch, "a join batch has 1...\(Self.maxJoinBatch) entries")
        var args: [RedisArgument] = []
        args.reserveCapacity(userIds.count + 1)
        args.append(RedisArgument(now ?? 0))
        for userId in userIds { args.append(RedisArgument(userId ?? "")) }
        return client.evalFuture(QueueScripts.join, keys: [RedisArgument(QueueKeys(event: event).prefix)], args: args)
            .flatMapThrowing { reply in try Self.joinResults(reply, event: event, count: userIds.count) }
    }

    /// The most joins one script call takes (Lua's `unpack` limits the arguments of one call).
    public static let maxJoinBatch = 512

    static func joinResults(_ reply: RedisValue, event: String, count: Int) throws -> [JoinResult] {
        let items = try status(reply, event: event)
        guard items.count == 1 + 4 * count else { throw unexpected(reply) }
        var results: [JoinResult] = []
        results.reserveCapacity(count)
        var index = 1
        while index < items.count {
            guard let seq = items[index].int, let order = items[index + 1].int, let letter = items[index + 2].string,
                  let state = PlaceState.Kind(rawValue: letter), let isNew = items[index + 3].int
            else { throw unexpected(reply) }
            results.append(JoinResult(seq: seq, order: order == 0 ? nil : order, state: state, isNew: isNew == 1))
            index += 4
        }
        return results
    }

    /// Leaves: a waiting place is freed (everyone behind moves up), an admitted one is finished
    /// (its active slot is freed). Returns the state before, or `nil` for an unknown seq.
    @discardableResult
    public func leave(event: String, seq: Int) async throws -> PlaceState.Kind? {
        let reply = try await run(QueueScripts.leave, QueueKeys(event: event), [RedisArgument(seq)])
        guard let items = reply.array, items.first?.string == "OK" else { return nil }
        return items[1].string.flatMap(PlaceState.Kind.init(rawValue:))
    }

    /// A poll: records it as the place's last sign of life (when it waits in line without a
    /// stream) and returns its state; `nil` for an unknown seq.
    public func touch(event: String, seq: Int, now: Int64? = nil) async throws -> PlaceState? {
        let reply = try await run(QueueScripts.touch, QueueKeys(event: event), [RedisArgument(seq), RedisArgument(now ?? 0)])
        return try Self.places(reply, seqs: [seq])[0]
    }

    /// The state of a place without touching it; `nil` for an unknown seq.
    public func state(event: String, seq: Int) async throws -> PlaceState? {
        try await stateBatch(event: event, seqs: [seq]).get()[0]
    }

    /// The states of several places of `event` without touching them, in one script call: one
    /// answer per seq, in order, `nil` for an unknown seq. At most ``maxStateBatch`` seqs.
    public func stateBatch(event: String, seqs: [Int]) -> EventLoopFuture<[PlaceState?]> {
        precondition(!seqs.isEmpty && seqs.count <= Self.maxStateBatch, "a state batch has 1...\(Self.maxStateBatch) seqs")
        return client.evalFuture(QueueScripts.states, keys: [RedisArgument(QueueKeys(event: event).prefix)],
                                 args: seqs.map { RedisArgument($0) })
            .flatMapThrowing { reply in try Self.places(reply, seqs: seqs) }
    }

    /// The places of a `touch` or `states` reply: `{soldOut, state, order, position, expiry, …}`.
    private static func places(_ reply: RedisValue, seqs: [Int]) throws -> [PlaceState?] {
        guard let items = reply.array, items.count == 1 + 4 * seqs.count, let soldOut = items[0].int else {
            throw unexpected(reply)
        }
        var states: [PlaceState?] = []
        states.reserveCapacity(seqs.count)
        for (index, seq) in seqs.enumerated() {
            let base = 1 + 4 * index
            guard let letter = items[base].string else { throw unexpected(reply) }
            if letter.isEmpty {
                states.append(nil)
                continue
            }
            guard let state = PlaceState.Kind(rawValue: letter), let order = items[base + 1].int,
                  let position = items[base + 2].int, let expiry = items[base + 3].int else {
                throw unexpected(reply)
            }
            states.append(PlaceState(
                seq: seq, state: state, order: order == 0 ? nil : order, position: position == 0 ? nil : position,
                admissionExpiresAtMilliseconds: expiry == 0 ? nil : Int64(expiry), soldOut: soldOut == 1))
        }
        return states
    }

    /// The most seqs one `states` call takes.
    public static let maxStateBatch = 256

    /// A stream for `order` opened on edge process `edgeID` (also that edge's heartbeat). While
    /// it is open the place is not abandoned. Call it for the first local stream of an order
    /// (and again for every local stream after `open`: orders are known only then).
    /// Returns `true` when the order waits in line. (The server sends these through
    /// ``PresenceBatcher``.)
    @discardableResult
    public func connect(event: String, order: Int, edgeID: String, now: Int64? = nil) async throws -> Bool {
        try await presenceBatch(event: event, edgeID: edgeID, changes: [.connect(order)], now: now).get()[0]
    }

    /// The last local stream for `order` on `edgeID` closed; abandonment counts from `now`.
    @discardableResult
    public func disconnect(event: String, order: Int, edgeID: String, now: Int64? = nil) async throws -> Bool {
        try await presenceBatch(event: event, edgeID: edgeID, changes: [.disconnect(order)], now: now).get()[0]
    }

    /// Presence changes of edge process `edgeID`, applied in order in one script call: one result
    /// per change, `true` when that order waits in line. At most ``maxPresenceBatch`` changes.
    public func presenceBatch(event: String, edgeID: String, changes: [PresenceChange], now: Int64? = nil) -> EventLoopFuture<[Bool]> {
        precondition(!changes.isEmpty && changes.count <= Self.maxPresenceBatch, "a presence batch has 1...\(Self.maxPresenceBatch) changes")
        var args: [RedisArgument] = []
        args.reserveCapacity(2 + 2 * changes.count)
        args.append(RedisArgument(edgeID))
        args.append(RedisArgument(now ?? 0))
        for change in changes {
            switch change {
            case .connect(let order): args.append("c"); args.append(RedisArgument(order))
            case .disconnect(let order): args.append("d"); args.append(RedisArgument(order))
            }
        }
        return client.evalFuture(QueueScripts.presence, keys: [RedisArgument(QueueKeys(event: event).prefix)], args: args)
            .flatMapThrowing { reply in
                guard let items = reply.array, items.count == changes.count else { throw Self.unexpected(reply) }
                return try items.map { item in
                    guard let flag = item.int else { throw Self.unexpected(reply) }
                    return flag == 1
                }
            }
    }

    /// The most presence changes one script call takes (two arguments each).
    public static let maxPresenceBatch = 256

    /// Edge `edgeID` is alive (call every few seconds; after 10 s without, its streams count as closed).
    public func heartbeat(event: String, edgeID: String, now: Int64) async throws {
        _ = try await client.send("ZADD", RedisArgument(QueueKeys(event: event).edgeHeartbeats), RedisArgument(now), RedisArgument(edgeID))
    }

    // MARK: - Reads

    /// Counters and gauges, read atomically.
    public func stats(event: String) async throws -> QueueStats {
        let reply = try await run(QueueScripts.stats, QueueKeys(event: event), [])
        guard let items = reply.array, items.count == 7 else { throw Self.unexpected(reply) }
        let counters = Self.hash(items[5])
        let cfg = Self.hash(items[6])
        func counter(_ name: String) -> Int { counters[name].flatMap { Int($0) } ?? 0 }
        return QueueStats(
            waiting: items[0].int ?? 0, active: items[1].int ?? 0, preQueue: items[2].int ?? 0,
            frontier: items[3].int ?? 0, lastSeq: items[4].int ?? 0,
            admittedTotal: counter("admittedTotal"), joinsTotal: counter("joinsTotal"), leftTotal: counter("leftTotal"),
            abandonedTotal: counter("abandonedTotal"), expiredTotal: counter("expiredTotal"),
            lastTickMilliseconds: Int64(counter("lastTickMs")),
            isOpen: cfg["open"] == "1", paused: cfg["paused"] == "1", soldOut: cfg["soldOut"] == "1",
            seedHash: cfg["seedHash"], seed: cfg["seed"], cohort: cfg["cohort"].flatMap { Int($0) },
            settings: cfg
        )
    }

    /// Frontier, departures after stream id `after` (`nil` = from the start; at most `count`),
    /// settings and last tick, in one atomic read.
    public func snapshot(event: String, after: String? = nil, count: Int = 10_000) async throws -> QueueSnapshot {
        let reply = try await run(QueueScripts.snapshot, QueueKeys(event: event), [RedisArgument(after ?? ""), RedisArgument(count)])
        guard let items = reply.array, items.count == 5 else { throw Self.unexpected(reply) }
        var departures: [QueueSnapshot.Departure] = []
        for entry in items[1].array ?? [] {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
            let fields = Self.hash(parts[1])
            guard let order = fields["o"].flatMap({ Int($0) }) else { continue }
            departures.append(.init(id: id, order: order, reason: fields["r"] ?? "l"))
        }
        return QueueSnapshot(
            frontier: items[0].int ?? 0, departures: departures, settings: Self.hash(items[2]),
            lastTickMilliseconds: Int64(items[3].int ?? 0), lastTickCount: items[4].int ?? 0
        )
    }

    // MARK: - Admission (the leader's side)

    /// Takes the admission lease of `event` when free, or extends it when `leaseID` holds it.
    /// Returns whether `leaseID` holds it afterwards.
    public func acquireLease(event: String, leaseID: String, ttlMilliseconds: Int) async throws -> Bool {
        try await run(QueueScripts.lease, QueueKeys(event: event), [RedisArgument(leaseID), RedisArgument(ttlMilliseconds)]).int == 1
    }

    /// Extends the lease only when `leaseID` holds it (compare-and-extend).
    public func renewLease(event: String, leaseID: String, ttlMilliseconds: Int) async throws -> Bool {
        try await run(QueueScripts.renew, QueueKeys(event: event), [RedisArgument(leaseID), RedisArgument(ttlMilliseconds)]).int == 1
    }

    /// Gives the lease up when `leaseID` holds it, so another process can take over at once.
    @discardableResult
    public func releaseLease(event: String, leaseID: String) async throws -> Bool {
        try await run(QueueScripts.release, QueueKeys(event: event), [RedisArgument(leaseID)]).int == 1
    }

    /// One admission tick, fenced on the lease (see ``QueueScripts/admit``).
    public func admit(event: String, leaseID: String, limit: Int = 10_000) async throws -> AdmitOutcome {
        let reply = try await run(QueueScripts.admit, QueueKeys(event: event), [RedisArgument(leaseID), RedisArgument(limit)])
        guard let items = reply.array, let status = items.first?.string else { throw Self.unexpected(reply) }
        switch status {
        case "FENCED": return .fenced
        case "NOT_CONFIGURED": return .notConfigured
        case "OK":
            guard items.count == 8 else { throw Self.unexpected(reply) }
            return .ran(AdmitResult(
                admitted: items[1].int ?? 0, frontier: items[2].int ?? 0, waiting: items[3].int ?? 0,
                active: items[4].int ?? 0, expired: items[5].int ?? 0, openDue: items[6].int == 1,
                nowMilliseconds: Int64(items[7].int ?? 0)
            ))
        default: throw Self.unexpected(reply)
        }
    }

    /// Abandonment and dead-edge cleanup (see ``QueueScripts/sweep``); at most `batch` abandoned.
    @discardableResult
    public func sweep(event: String, now: Int64? = nil, batch: Int = 1_000) async throws -> SweepResult {
        let reply = try await run(QueueScripts.sweep, QueueKeys(event: event), [RedisArgument(now ?? 0), RedisArgument(batch)])
        guard let items = reply.array, items.count == 3 else { throw Self.unexpected(reply) }
        return SweepResult(abandoned: items[0].int ?? 0, deadEdges: items[1].int ?? 0, streamsClosed: items[2].int ?? 0)
    }

    /// Draws the pre-queue lottery and opens the line (see ``QueueScripts/open``). `leaseID`
    /// fences it on the admission lease; `nil` runs it unfenced (ops, tests).
    public func open(event: String, leaseID: String?) async throws -> OpenOutcome {
        let fallbackSeed = Crypto.hex(Crypto.randomBytes(16))
        let reply = try await run(QueueScripts.open, QueueKeys(event: event), [RedisArgument(leaseID ?? ""), RedisArgument(fallbackSeed)])
        guard let items = reply.array, let status = items.first?.string else { throw Self.unexpected(reply) }
        switch status {
        case "FENCED": return .fenced
        case "ALREADY_OPEN": return .alreadyOpen
        case "OK":
            guard items.count == 3, let cohort = items[1].int, let seed = items[2].string else { throw Self.unexpected(reply) }
            return .opened(cohort: cohort, seed: seed)
        default: throw Self.unexpected(reply)
        }
    }

    // MARK: - Helpers

    private func run(_ script: RedisScript, _ keys: QueueKeys, _ args: [RedisArgument]) async throws -> RedisValue {
        try await client.eval(script, keys: [RedisArgument(keys.prefix)], args: args)
    }

    private static func status(_ reply: RedisValue, event: String) throws -> [RedisValue] {
        guard let items = reply.array, let status = items.first?.string else { throw unexpected(reply) }
        switch status {
        case "OK": return items
        case "SOLD_OUT": throw WaitroomError(.soldOut, "event \(event) is sold out")
        case "NOT_CONFIGURED": throw WaitroomError(.notConfigured, "event \(event) has no queue")
        default: throw unexpected(reply)
        }
    }

    private static func expectOK(_ reply: RedisValue) throws {
        guard reply.array?.first?.string == "OK" else { throw unexpected(reply) }
    }

    private static func unexpected(_ reply: RedisValue) -> WaitroomError {
        WaitroomError(.unexpectedReply, "unexpected script reply \(reply)")
    }

    static func hash(_ reply: RedisValue) -> [String: String] {
        var result: [String: String] = [:]
        let items = reply.array ?? []
        var index = 0
        while index + 1 < items.count {
            if let key = items[index].string, let value = items[index + 1].string { result[key] = value }
            index += 2
        }
        return result
    }

    /// A rate as Redis and Lua parse it: plain decimal, no exponent.
    static func decimal(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
