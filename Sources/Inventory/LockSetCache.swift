import Synchronization

/// A bounded map from reservation id to its lock set, in two generations: when the young one is
/// full it becomes the old one (the previous old one is dropped), so memory stays bounded and
/// recently used entries survive. A hit in the old generation moves the entry back to the young.
final class LockSetCache: Sendable {
    private struct Generations {
        var young: [String: InventoryBatcher.LockSet] = [:]
        var old: [String: InventoryBatcher.LockSet] = [:]
    }

    private let half: Int
    private let state = Mutex(Generations())

    init(capacity: Int) {
        half = max(1, capacity / 2)
    }

    func get(_ id: String) -> InventoryBatcher.LockSet? {
        state.withLock { g in
            if let hit = g.young[id] { return hit }
            guard let hit = g.old.removeValue(forKey: id) else { return nil }
            Self.put(id, hit, into: &g, half: half)
            return hit
        }
    }

    func insert(_ id: String, _ lockSet: InventoryBatcher.LockSet) {
        state.withLock { Self.put(id, lockSet, into: &$0, half: half) }
    }

    var count: Int { state.withLock { $0.young.count + $0.old.count } }

    private static func put(_ id: String, _ lockSet: InventoryBatcher.LockSet, into g: inout Generations, half: Int) {
        if g.young.count >= half {
            g.old = g.young
            g.young = [:]
            g.young.reserveCapacity(half)
        }
        g.young[id] = lockSet
    }
}
