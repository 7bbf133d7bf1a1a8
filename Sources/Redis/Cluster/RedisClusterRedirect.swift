/// An error reply of a Redis Cluster node that the client handles itself instead of returning it.
enum RedisClusterRedirect: Sendable, Hashable {
    /// `MOVED <slot> <host:port>`: the slot lives on that node now; update the slot map.
    case moved(slot: Int, to: RedisEndpoint)
    /// `ASK <slot> <host:port>`: this one command goes to that node after `ASKING` (the slot is
    /// being migrated); the slot map stays.
    case ask(slot: Int, to: RedisEndpoint)
    /// `TRYAGAIN`: a multi-key command during a migration found only some of its keys; retry later.
    case tryAgain
    /// `CLUSTERDOWN`: the cluster cannot serve the slot right now; retry later.
    case clusterDown

    /// The redirect an error reply asks for, or `nil` for any other error. `replyingNode` fills
    /// in an empty host in the address.
    init?(errorMessage message: String, replyingNode: RedisEndpoint) {
        let words = message.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard let kind = words.first else { return nil }
        switch kind {
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), (0..<RedisHashSlot.count).contains(slot),
                  let endpoint = RedisEndpoint(redisAddress: words[2], fallbackHost: replyingNode.host)
            else { return nil }
            self = kind == "MOVED" ? .moved(slot: slot, to: endpoint) : .ask(slot: slot, to: endpoint)
        case "TRYAGAIN":
            self = .tryAgain
        case "CLUSTERDOWN":
            self = .clusterDown
        default:
            return nil
        }
    }
}
