/// What a cluster-mode ``RedisClient`` has done so far (the metrics count the same things).
public struct RedisClusterStatistics: Sendable, Hashable {
    /// `MOVED` redirects followed.
    public var moved = 0
    /// `ASK` redirects followed.
    public var asked = 0
    /// Retries after `TRYAGAIN`, `CLUSTERDOWN` or a slot no known node served.
    public var retried = 0
    /// Commands refused without sending because their keys were in different slots.
    public var refusedCrossSlot = 0
    /// Slot maps loaded with `CLUSTER SLOTS`.
    public var slotMapLoads = 0
}
