import Redis

/// One reply of ``PositionScripts``, parsed: pure, so the parsing is testable without Redis.
public enum PositionSnapshot: Sendable, Equatable {
    /// Departures after the cursor, the frontier and settings at the same instant.
    case incremental(frontier: Int, settings: EventQueueSettings, nowMs: Int64, departures: [Departure])
    /// The departures stream was trimmed past the cursor: a rebuild is needed.
    case trimmed(frontier: Int, settings: EventQueueSettings, nowMs: Int64)
    /// A full rebuild from the waiting set.
    case rebuilt(frontier: Int, maxOrder: Int, settings: EventQueueSettings, nowMs: Int64, cursor: String, waiting: [Int])

    /// One entry of `wr:{e}:dep`.
    public struct Departure: Sendable, Equatable {
        /// The stream entry id.
        public var id: String
        /// The departed order (`o`).
        public var order: Int
        /// A departure with an id and order.
        public init(id: String, order: Int) {
            self.id = id
            self.order = order
        }
    }

    /// Parses a reply of ``PositionScripts/snapshot``.
    public static func parseSnapshot(_ reply: RedisValue) throws -> PositionSnapshot {
        guard let items = reply.array, items.count >= 4, let status = items[0].string,
              let frontier = items[1].int, let nowMs = items[3].int
        else { throw RedisError(code: .protocolError, message: "unexpected position snapshot \(reply)") }
        let settings = EventQueueSettings(fields: Self.fields(items[2]))
        if status == "trimmed" {
            return .trimmed(frontier: frontier, settings: settings, nowMs: Int64(nowMs))
        }
        guard status == "ok", items.count >= 5, let entries = items[4].array else {
            throw RedisError(code: .protocolError, message: "unexpected position snapshot \(reply)")
        }
        var departures: [Departure] = []
        departures.reserveCapacity(entries.count)
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else {
                throw RedisError(code: .protocolError, message: "unexpected departure entry \(entry)")
            }
            // Entries without a usable order still move the cursor (order 0 is ignored by the index).
            let order = Self.fields(parts[1])["o"].flatMap(Int.init) ?? 0
            departures.append(Departure(id: id, order: order))
        }
        return .incremental(frontier: frontier, settings: settings, nowMs: Int64(nowMs), departures: departures)
    }

    /// Parses a reply of ``PositionScripts/rebuild``.
    public static func parseRebuild(_ reply: RedisValue) throws -> PositionSnapshot {
        guard let items = reply.array, items.count == 6, let frontier = items[0].int, let seq = items[1].int,
              let nowMs = items[3].int, let cursor = items[4].string, let waiting = items[5].array
        else { throw RedisError(code: .protocolError, message: "unexpected position rebuild \(reply)") }
        let settings = EventQueueSettings(fields: Self.fields(items[2]))
        // Before the lottery, places have no orders yet: nothing is waiting in order space.
        let maxOrder = settings.ordersAssigned ? seq : 0
        return .rebuilt(
            frontier: frontier,
            maxOrder: maxOrder,
            settings: settings,
            nowMs: Int64(nowMs),
            cursor: cursor,
            waiting: waiting.compactMap(\.int)
        )
    }

    /// A flat `field, value, …` array as a dictionary.
    static func fields(_ value: RedisValue) -> [String: String] {
        guard let flat = value.array else { return [:] }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].string { fields[name] = value }
            index += 2
        }
        return fields
    }
}
