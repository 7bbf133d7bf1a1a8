import Redis

/// The Redis key names of one event's queue (docs/waitroom-queue.md, "Keys").
///
/// Every key of an event carries the hash tag `{eventId}`, so all of them live in one Redis
/// Cluster slot and one Lua script may touch them all. Scripts get ``prefix`` as their only key
/// and derive the others from it (the prefix hashes to the same slot).
public struct QueueKeys: Sendable, Hashable {
    /// The event id.
    public let event: String
    /// `wr:{e}:`; every other key of the event starts with it.
    public let prefix: String

    /// The set of events that have a queue: `wr:events` (not hash-tagged: one key for all).
    public static let events = "wr:events"

    /// The keys of `event`.
    public init(event: String) {
        self.event = event
        self.prefix = "wr:{\(event)}:"
    }

    /// `wr:{e}:cfg` hash: rate, maxActive, sessionSeconds, paused, abandonAfter, opensAt, open,
    /// soldOut, seedHash, seed (after opening), cohort.
    public var cfg: String { prefix + "cfg" }
    /// `wr:{e}:seq` string: the last sequence number handed out.
    public var seq: String { prefix + "seq" }
    /// `wr:{e}:q` zset of waiting orders (member = score = order).
    public var queue: String { prefix + "q" }
    /// `wr:{e}:pre` zset: the pre-queue cohort (member = score = seq) until opening.
    public var preQueue: String { prefix + "pre" }
    /// `wr:{e}:users` hash: userId → seq.
    public var users: String { prefix + "users" }
    /// `wr:{e}:state` hash: seq → state letter; `o:<seq>` → order and `s:<order>` → seq where
    /// they differ (lottery cohort).
    public var state: String { prefix + "state" }
    /// `wr:{e}:seen` zset: waiting order → last seen (unix ms); 9e15 while a stream is open.
    public var seen: String { prefix + "seen" }
    /// `wr:{e}:active` zset: admitted order → admission expiry (unix ms).
    public var active: String { prefix + "active" }
    /// `wr:{e}:frontier` string: the largest order ever admitted.
    public var frontier: String { prefix + "frontier" }
    /// `wr:{e}:dep` stream of departures: `o` (order), `r` (`l` left, `x` abandoned).
    public var departures: String { prefix + "dep" }
    /// `wr:{e}:bucket` hash: admission token bucket `tokens`, `at` (unix µs).
    public var bucket: String { prefix + "bucket" }
    /// `wr:{e}:lease` string: id of the one admitter (with a `PX` expiry).
    public var lease: String { prefix + "lease" }
    /// `wr:{e}:stats` hash of counters; also `lastTickMs`, `lastTickCount`.
    public var stats: String { prefix + "stats" }
    /// `wr:{e}:secret` string: the lottery seed until opening (then revealed in `cfg`).
    public var secret: String { prefix + "secret" }
    /// `wr:{e}:edgehb` zset: edge id → last heartbeat (unix ms).
    public var edgeHeartbeats: String { prefix + "edgehb" }
    /// `wr:{e}:ev` pub/sub channel: `tick <F> <ms> <k>`, `cfg`, `paused`, `resumed`, `soldout`,
    /// `open <cohort> <seed>`.
    public var channel: String { prefix + "ev" }

    /// `wr:{e}:edge:<id>` set: orders with a stream open on edge process `id`.
    public func edge(_ id: String) -> String { prefix + "edge:" + id }
}
