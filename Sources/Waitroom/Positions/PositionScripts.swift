import Redis

/// The read-only Lua scripts an edge's ``EventTracker`` runs: each is one atomic snapshot, so the
/// frontier, the departures and the settings it returns belong together.
public enum PositionScripts {
    /// The keys both scripts take, in order: frontier, dep, cfg, seq, q.
    public static func keys(eventID: String) -> [RedisArgument] {
        let tag = "wr:{\(eventID)}:"
        return [
            RedisArgument(tag + "frontier"), RedisArgument(tag + "dep"), RedisArgument(tag + "cfg"),
            RedisArgument(tag + "seq"), RedisArgument(tag + "q"),
        ]
    }

    /// The incremental snapshot. `ARGV`: the last departure id read (`0-0` for none), the batch size.
    /// Returns `{"ok", frontier, cfg, nowMs, entries}` or `{"trimmed", frontier, cfg, nowMs}` when
    /// departures after the cursor may have been trimmed away (then rebuild with ``rebuild``).
    public static let snapshot = RedisScript(source: """
        #!lua flags=no-writes
        local frontier = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        local cfg = redis.call('HGETALL', KEYS[3])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local cursor = ARGV[1]
        if cursor == '0-0' then
          if redis.call('EXISTS', KEYS[2]) == 1 then
            local info = redis.call('XINFO', 'STREAM', KEYS[2])
            local length, added = 0, 0
            for i = 1, #info, 2 do
              if info[i] == 'length' then length = info[i + 1] end
              if info[i] == 'entries-added' then added = info[i + 1] end
            end
            if added > length then return {'trimmed', frontier, cfg, now} end
          end
        elseif #redis.call('XRANGE', KEYS[2], cursor, cursor) == 0 then
          return {'trimmed', frontier, cfg, now}
        end
        local entries = redis.call('XRANGE', KEYS[2], '(' .. cursor, '+', 'COUNT', ARGV[2])
        return {'ok', frontier, cfg, now, entries}
        """)

    /// The full rebuild: `{frontier, seq, cfg, nowMs, cursor, waitingOrders}` where `cursor` is the
    /// id of the newest departure (`0-0` if none) and `waitingOrders` is `ZRANGE q 0 -1`.
    public static let rebuild = RedisScript(source: """
        #!lua flags=no-writes
        local frontier = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        local seq = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
        local cfg = redis.call('HGETALL', KEYS[3])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
        local cursor = '0-0'
        if #last > 0 then cursor = last[1][1] end
        local waiting = redis.call('ZRANGE', KEYS[5], 0, -1)
        return {frontier, seq, cfg, now, cursor, waiting}
        """)
}
