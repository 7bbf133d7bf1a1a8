/// Which master serves each of the 16384 slots, as a Redis Cluster last told us.
struct RedisSlotMap: Sendable, Hashable {
    /// The masters, in the order first seen; ``owners`` indexes into it.
    private(set) var nodes: [RedisEndpoint] = []
    /// Per slot, the index of its master in ``nodes``, or -1 when no node serves it.
    private var owners = [Int16](repeating: -1, count: RedisHashSlot.count)

    /// An empty map: no slot is served.
    init() {}

    /// The map in a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replicas…], …]`.
    /// An empty host means the node that answered (`replyingNode`).
    init(clusterSlots reply: RedisValue, replyingNode: RedisEndpoint) throws {
        guard let ranges = reply.array else {
            throw RedisError(code: .protocolError, message: "CLUSTER SLOTS reply is not an array: \(reply)")
        }
        for range in ranges {
            guard let parts = range.array, parts.count >= 3,
                  let start = parts[0].int, let end = parts[1].int,
                  0 <= start, start <= end, end < RedisHashSlot.count,
                  let master = parts[2].array, master.count >= 2,
                  let host = master[0].string, let port = master[1].int, (1...65535).contains(port)
            else {
                throw RedisError(code: .protocolError, message: "unexpected CLUSTER SLOTS entry: \(range)")
            }
            let endpoint = RedisEndpoint(host: host.isEmpty || host == "?" ? replyingNode.host : host, port: port)
            for slot in start...end { assign(slot: slot, to: endpoint) }
        }
    }

    /// `true` when no slot is served.
    var isEmpty: Bool { nodes.isEmpty }

    /// The master that serves `slot`, if any.
    func node(forSlot slot: Int) -> RedisEndpoint? {
        let owner = owners[slot]
        return owner < 0 ? nil : nodes[Int(owner)]
    }

    /// The masters that serve at least one slot.
    var masters: [RedisEndpoint] {
        var serving = [Bool](repeating: false, count: nodes.count)
        for owner in owners where owner >= 0 { serving[Int(owner)] = true }
        return nodes.indices.filter { serving[$0] }.map { nodes[$0] }
    }

    /// Records that `slot` lives on `node` (a `MOVED` reply).
    mutating func assign(slot: Int, to node: RedisEndpoint) {
        let index: Int
        if let known = nodes.firstIndex(of: node) {
            index = known
        } else {
            nodes.append(node)
            index = nodes.count - 1
        }
        owners[slot] = Int16(index)
    }
}
