/// Where a command goes in a Redis Cluster, decided from its name and keys.
enum RedisCommandRoute: Sendable, Hashable {
    /// The master of this slot (the slot of the command's keys).
    case slot(Int)
    /// Any node: the command has no key (`PING`, `TIME`, `PUBLISH`, …).
    case anyNode
    /// Every master, e.g. `SCRIPT LOAD` (each node has its own script cache) or `FLUSHDB`.
    case allMasters
    /// Refused without sending: the keys are in different slots. The `CROSSSLOT` error message.
    case crossSlot(String)

    /// The route of `command` (name first).
    ///
    /// Keys: `EVAL`/`EVALSHA`/`FCALL` (and `_RO`) name theirs with `numkeys`; the listed
    /// multi-key commands (`DEL`, `MGET`, `MSET`, …) have several; `XREAD`/`XREADGROUP` list
    /// theirs after `STREAMS`; every other command with arguments has its key first. When
    /// several keys do not share a slot the route is ``crossSlot(_:)``.
    static func of(_ command: [RedisArgument]) -> RedisCommandRoute {
        guard let name = command.first?.bytes else { return .anyNode }
        let upper = String(decoding: name.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
        if upper == "SCRIPT" || upper == "FUNCTION" {
            let sub = command.count > 1 ? String(decoding: command[1].bytes, as: UTF8.self).uppercased() : ""
            return ["LOAD", "FLUSH", "DELETE", "RESTORE"].contains(sub) ? .allMasters : .anyNode
        }
        if allMasterCommands.contains(upper) { return .allMasters }
        if keylessCommands.contains(upper) || command.count < 2 { return .anyNode }

        let keys: ArraySlice<RedisArgument>
        switch upper {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard command.count >= 3, let count = Int(String(decoding: command[2].bytes, as: UTF8.self)),
                  count >= 0, 3 + count <= command.count else { return .anyNode }
            keys = command[3..<(3 + count)]
        case "XREAD", "XREADGROUP":
            guard let streams = command.firstIndex(where: { String(decoding: $0.bytes, as: UTF8.self).uppercased() == "STREAMS" })
            else { return .anyNode }
            let rest = command[(streams + 1)...]
            keys = rest.prefix(rest.count / 2)
        case "MSET", "MSETNX":
            keys = ArraySlice(stride(from: 1, to: command.count, by: 2).map { command[$0] })
        case _ where allKeyCommands.contains(upper):
            keys = command[1...]
        case _ where twoKeyCommands.contains(upper):
            keys = command[1..<min(3, command.count)]
        default:
            keys = command[1..<2]
        }
        guard let first = keys.first else { return .anyNode }
        let slot = RedisHashSlot.slot(of: first.bytes)
        for key in keys.dropFirst() {
            let other = RedisHashSlot.slot(of: key.bytes)
            if other != slot {
                return .crossSlot("CROSSSLOT Keys in request don't hash to the same slot (refused by the client: "
                    + "'\(first)' is in slot \(slot), '\(key)' in slot \(other))")
            }
        }
        return .slot(slot)
    }

    private static let allMasterCommands: Set<String> = ["FLUSHDB", "FLUSHALL"]
    private static let keylessCommands: Set<String> = [
        "PING", "ECHO", "TIME", "INFO", "PUBLISH", "PUBSUB", "SCAN", "RANDOMKEY", "DBSIZE", "CLUSTER",
        "COMMAND", "CONFIG", "CLIENT", "HELLO", "AUTH", "QUIT", "WAIT", "ASKING", "READONLY", "READWRITE",
        "MEMORY", "SLOWLOG", "LATENCY", "LASTSAVE", "ROLE", "SAVE", "BGSAVE", "BGREWRITEAOF",
    ]
    private static let allKeyCommands: Set<String> = [
        "DEL", "UNLINK", "EXISTS", "TOUCH", "MGET", "WATCH", "PFCOUNT", "PFMERGE",
        "SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE",
    ]
    private static let twoKeyCommands: Set<String> = [
        "RENAME", "RENAMENX", "COPY", "SMOVE", "RPOPLPUSH", "LMOVE", "BLMOVE", "BRPOPLPUSH",
    ]
}
