import Redis

/// The Lua scripts of the queue. Each gets one key, the event's ``QueueKeys/prefix`` (`wr:{e}:`),
/// and derives the event's other keys from it: they share its hash tag, hence its slot.
///
/// Times are unix milliseconds; an argument `now` of `0` means "use Redis `TIME`", so that one
/// clock serves every process. Orders and counts are returned as integers; status words first.
public enum QueueScripts {
    // Shared helpers, prepended to every script.
    private static let prelude = """
        local p = KEYS[1]
        local function redis_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function now_or_time(v)
          local n = tonumber(v or '0') or 0
          if n <= 0 then return redis_ms() end
          return n
        end
        local function fmt(n) return string.format('%d', n) end
        local function seq_of(order)
          return redis.call('HGET', p .. 'state', 's:' .. order) or tostring(order)
        end
        local function order_of(seq, open)
          local o = redis.call('HGET', p .. 'state', 'o:' .. seq)
          if o then return tonumber(o) end
          if open then return tonumber(seq) end
          return 0
        end
        local function is_open() return redis.call('HGET', p .. 'cfg', 'open') == '1' end
        -- appends the 4 values of place `seq` in state `st` (nil: unknown) to `out`: state ('' when
        -- unknown), order, position (0 unless waiting in the open line), admission expiry (ms, 0
        -- unless admitted); returns its order
        local function append_place(out, seq, st, open)
          if not st then
            out[#out + 1] = ''; out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = 0
            return nil
          end
          local order = order_of(seq, open)
          local position = 0
          local expiry = 0
          if st == 'w' and open then
            local rank = redis.call('ZRANK', p .. 'q', order)
            if rank then position = rank + 1 end
          elseif st == 'a' then
            expiry = tonumber(redis.call('ZSCORE', p .. 'active', order) or '0')
          end
          out[#out + 1] = st; out[#out + 1] = order; out[#out + 1] = position; out[#out + 1] = expiry
          return order
        end
        local function sold_out_flag() return redis.call('HGET', p .. 'cfg', 'soldOut') == '1' and 1 or 0 end
        local function depart(order, reason)
          redis.call('XADD', p .. 'dep', 'MAXLEN', '~', 1000000, '*', 'o', order, 'r', reason)
        end

        """

    private static func script(_ body: String) -> RedisScript {
        RedisScript(source: prelude + body)
    }

    /// `configure(rate, maxActive, sessionSeconds, paused, abandonAfter, opensAt, seedHash, seed, now)`.
    ///
    /// Writes the settings; an event not yet open whose `opensAt` is due and that has no joins yet
    /// opens at once (no lottery); one whose `opensAt` lies ahead keeps `seed` secret (first call
    /// only) and shows `seedHash`. Publishes `cfg`, and `paused`/`resumed` when that flips.
    /// Returns `{'OK', created (0/1), open (0/1)}`.
    public static let configure = script("""
        local now = now_or_time(ARGV[9])
        local old = redis.call('HMGET', p .. 'cfg', 'paused', 'open', 'rate')
        local created = 0
        if not old[3] then created = 1 end
        redis.call('HSET', p .. 'cfg', 'rate', ARGV[1], 'maxActive', ARGV[2], 'sessionSeconds', ARGV[3],
          'paused', ARGV[4], 'abandonAfter', ARGV[5], 'opensAt', ARGV[6])
        redis.call('HSETNX', p .. 'cfg', 'soldOut', '0')
        redis.call('HSETNX', p .. 'cfg', 'open', '0')
        redis.call('SETNX', p .. 'frontier', '0')
        local open = old[2] == '1'
        if not open then
          local opensAt = tonumber(ARGV[6])
          local joined = tonumber(redis.call('GET', p .. 'seq') or '0')
          if opensAt <= now and joined == 0 then
            redis.call('HSET', p .. 'cfg', 'open', '1', 'cohort', '0')
            open = true
          elseif opensAt > now and redis.call('EXISTS', p .. 'secret') == 0 then
            redis.call('SET', p .. 'secret', ARGV[8])
            redis.call('HSET', p .. 'cfg', 'seedHash', ARGV[7])
          end
        end
        redis.call('PUBLISH', p .. 'ev', 'cfg')
        local wasPaused = old[1] == '1'
        local paused = ARGV[4] == '1'
        if paused and not wasPaused then redis.call('PUBLISH', p .. 'ev', 'paused') end
        if wasPaused and not paused then redis.call('PUBLISH', p .. 'ev', 'resumed') end
        return {'OK', created, open and 1 or 0}
        """)

    /// `join(now, userId1, userId2, …)`: the joins of one batch, in order (`''` = anonymous).
    /// Sold out → `{'SOLD_OUT'}`; no configuration → `{'NOT_CONFIGURED'}` (for the whole batch).
    /// A known `userId` whose place has not left/been abandoned gets that place again (isNew 0),
    /// also when it appears twice in one batch. Else a new seq: before opening into the pre-queue
    /// (order 0 = not drawn yet), after opening into the line with order = seq. Returns
    /// `{'OK', seq, order, state, isNew, seq, order, state, isNew, …}`, four values per userId.
    /// The new places of a batch cost one call per key (multi-member `HSET`/`ZADD`), not one per join.
    public static let join = script("""
        local cfg = redis.call('HMGET', p .. 'cfg', 'rate', 'soldOut', 'open')
        if not cfg[1] then return {'NOT_CONFIGURED'} end
        if cfg[2] == '1' then return {'SOLD_OUT'} end
        local open = cfg[3] == '1'
        local count = #ARGV - 1
        local named = {}
        for i = 2, count + 1 do
          if ARGV[i] ~= '' then named[#named + 1] = ARGV[i] end
        end
        -- known[user] = {seq, order, state} of a place the user keeps
        local known = {}
        if #named > 0 then
          local seqs = redis.call('HMGET', p .. 'users', unpack(named))
          for j = 1, #named do
            local existing = seqs[j]
            if existing and not known[named[j]] then
              local st = redis.call('HGET', p .. 'state', existing)
              if st ~= 'l' and st ~= 'x' then
                known[named[j]] = {tonumber(existing), order_of(existing, open), st}
              end
            end
          end
        end
        local fresh = 0
        local counted = {}
        for i = 2, count + 1 do
          local user = ARGV[i]
          if user == '' then
            fresh = fresh + 1
          elseif not known[user] and not counted[user] then
            counted[user] = true
            fresh = fresh + 1
          end
        end
        local out = {'OK'}
        local seq = 0
        local score = ''
        if fresh > 0 then
          seq = redis.call('INCRBY', p .. 'seq', fresh) - fresh
          if open then score = fmt(now_or_time(ARGV[1])) end
        end
        local users, states, line, seen = {}, {}, {}, {}
        for i = 2, count + 1 do
          local user = ARGV[i]
          local place = user ~= '' and known[user]
          if place then
            out[#out + 1] = place[1]; out[#out + 1] = place[2]; out[#out + 1] = place[3]; out[#out + 1] = 0
          else
            seq = seq + 1
            local order = open and seq or 0
            -- one number-to-text conversion per place, not one per argument
            local text = tostring(seq)
            if user ~= '' then
              users[#users + 1] = user; users[#users + 1] = text
              known[user] = {seq, order, 'w'}
            end
            states[#states + 1] = text; states[#states + 1] = 'w'
            line[#line + 1] = text; line[#line + 1] = text
            seen[#seen + 1] = score; seen[#seen + 1] = text
            out[#out + 1] = seq; out[#out + 1] = order; out[#out + 1] = 'w'; out[#out + 1] = 1
          end
        end
        if fresh > 0 then
          if #users > 0 then redis.call('HSET', p .. 'users', unpack(users)) end
          redis.call('HSET', p .. 'state', unpack(states))
          redis.call('HINCRBY', p .. 'stats', 'joinsTotal', fresh)
          if open then
            redis.call('ZADD', p .. 'q', unpack(line))
            redis.call('ZADD', p .. 'seen', unpack(seen))
          else
            redis.call('ZADD', p .. 'pre', unpack(line))
          end
        end
        return out
        """)

    /// `leave(seq)`: waiting → left (out of the line; a departure `r=l` once open); admitted →
    /// done (frees its active slot). Returns `{'OK', previousState}` or `{'NOT_FOUND'}`.
    public static let leave = script("""
        local seq = ARGV[1]
        local st = redis.call('HGET', p .. 'state', seq)
        if not st then return {'NOT_FOUND'} end
        if st == 'w' then
          local open = is_open()
          redis.call('HSET', p .. 'state', seq, 'l')
          redis.call('HINCRBY', p .. 'stats', 'leftTotal', 1)
          if open then
            local order = order_of(seq, true)
            redis.call('ZREM', p .. 'q', order)
            redis.call('ZREM', p .. 'seen', order)
            depart(order, 'l')
          else
            redis.call('ZREM', p .. 'pre', seq)
          end
        elseif st == 'a' then
          redis.call('ZREM', p .. 'active', order_of(seq, true))
          redis.call('HSET', p .. 'state', seq, 'd')
        end
        return {'OK', st}
        """)

    /// `touch(seq, now)`: the place's state, as `states(seq)` answers it; when the place waits in
    /// the open line without a stream, records the poll (at `now`) as its last sign of life.
    public static let touch = script("""
        local seq = ARGV[1]
        local st = redis.call('HGET', p .. 'state', seq)
        local out = {sold_out_flag()}
        local open = is_open()
        local order = append_place(out, seq, st, open)
        if st == 'w' and open then
          local s = redis.call('ZSCORE', p .. 'seen', order)
          if s and tonumber(s) < 9e15 then
            redis.call('ZADD', p .. 'seen', 'XX', fmt(now_or_time(ARGV[2])), order)
          end
        end
        return out
        """)

    /// `states(seq1, seq2, …)`: the states of several places in one call, without recording
    /// anything (the streams that open within one event-loop tick, ``StateBatcher``). Returns
    /// `{soldOut, state, order, position, admissionExpiresAt, state, order, …}`, four values per
    /// seq, state `''` for an unknown seq.
    public static let states = script("""
        local out = {sold_out_flag()}
        if #ARGV == 0 then return out end
        local open = is_open()
        local kinds = redis.call('HMGET', p .. 'state', unpack(ARGV))
        for i = 1, #ARGV do append_place(out, ARGV[i], kinds[i], open) end
        return out
        """)

    /// `presence(edgeId, now, op, order, op, order, …)`: the streams of edge process `edgeId`
    /// that opened (`op` `c`, the first local stream of the order) and closed (`d`, its last), in
    /// the order they happened, as one call (``PresenceBatcher``). Also that edge's heartbeat. A
    /// connected order that waits in line is not abandoned while it stays connected; a disconnect
    /// starts its abandonment clock at `now`. Returns one integer per op: 1 when the order waits in
    /// line, else 0.
    public static let presence = script("""
        local now = now_or_time(ARGV[2])
        local edge = ARGV[1]
        local members = p .. 'edge:' .. edge
        redis.call('ZADD', p .. 'edgehb', fmt(now), edge)
        local out = {}
        for i = 3, #ARGV - 1, 2 do
          local order = ARGV[i + 1]
          local waiting = redis.call('ZSCORE', p .. 'seen', order)
          if ARGV[i] == 'c' then
            if waiting then
              redis.call('ZADD', p .. 'seen', 'XX', '9000000000000000', order)
              redis.call('SADD', members, order)
            end
          else
            redis.call('SREM', members, order)
            if waiting then redis.call('ZADD', p .. 'seen', 'XX', fmt(now), order) end
          end
          out[#out + 1] = waiting and 1 or 0
        end
        return out
        """)

    /// `admit(leaseId, limit)`, the admission tick, fenced: `{'FENCED'}` unless the lease holds
    /// `leaseId`. Time from Redis `TIME`. Drops expired actives (state `e`); refills the token
    /// bucket (`rate × dt`, capped at `max(1, rate/4, min(tokens, 1) + rate × min(dt, 1 s))`: saved
    /// tokens allow a burst of ¼ s at most, but a tick that comes late keeps what its own delay
    /// earned (up to 1 s) and the fraction left over, so stalls of the leader on a busy machine do
    /// not lower the rate; not while paused, closed or sold out) and
    /// admits `k = min(floor(tokens), maxActive − active, waiting, limit)` lowest orders; publishes
    /// `tick F now k` when `k > 0`. Returns `{'OK', k, F, waiting, active, expired, openDue, now}`
    /// or `{'NOT_CONFIGURED'}`.
    public static let admit = script("""
        if redis.call('GET', p .. 'lease') ~= ARGV[1] then return {'FENCED'} end
        local limit = tonumber(ARGV[2])
        local t = redis.call('TIME')
        local nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local nowMs = math.floor(nowUs / 1000)
        local cfg = redis.call('HMGET', p .. 'cfg', 'rate', 'maxActive', 'sessionSeconds', 'paused', 'open', 'soldOut', 'opensAt')
        if not cfg[1] then return {'NOT_CONFIGURED'} end
        local rate = tonumber(cfg[1])
        local maxActive = tonumber(cfg[2])
        local session = tonumber(cfg[3])
        local expired = redis.call('ZRANGEBYSCORE', p .. 'active', '-inf', fmt(nowMs), 'LIMIT', 0, 1000)
        for _, o in ipairs(expired) do
          redis.call('ZREM', p .. 'active', o)
          redis.call('HSET', p .. 'state', seq_of(o), 'e')
        end
        if #expired > 0 then redis.call('HINCRBY', p .. 'stats', 'expiredTotal', #expired) end
        local open = cfg[5] == '1'
        local openDue = 0
        if not open and nowMs >= tonumber(cfg[7] or '0') then openDue = 1 end
        local frontier = tonumber(redis.call('GET', p .. 'frontier') or '0')
        local k = 0
        if cfg[4] == '1' or not open or cfg[6] == '1' then
          redis.call('HSET', p .. 'bucket', 'at', fmt(nowUs))
        else
          local b = redis.call('HMGET', p .. 'bucket', 'tokens', 'at')
          local tokens = tonumber(b[1] or '0')
          local at = tonumber(b[2] or fmt(nowUs))
          local dt = (nowUs - at) / 1000000
          if dt < 0 then dt = 0 end
          local cap = math.max(1, rate * 0.25, math.min(tokens, 1) + rate * math.min(dt, 1))
          tokens = math.min(cap, tokens + rate * dt)
          k = math.floor(tokens)
          if maxActive > 0 then
            local free = maxActive - redis.call('ZCARD', p .. 'active')
            if free < k then k = free end
          end
          local waiting = redis.call('ZCARD', p .. 'q')
          if waiting < k then k = waiting end
          if limit < k then k = limit end
          if k < 0 then k = 0 end
          tokens = tokens - k
          redis.call('HSET', p .. 'bucket', 'tokens', string.format('%.6f', tokens), 'at', fmt(nowUs))
          if k > 0 then
            local popped = redis.call('ZPOPMIN', p .. 'q', k)
            local expiry = fmt(nowMs + session * 1000)
            for i = 1, #popped, 2 do
              local o = popped[i]
              redis.call('HSET', p .. 'state', seq_of(o), 'a')
              redis.call('ZADD', p .. 'active', expiry, o)
              redis.call('ZREM', p .. 'seen', o)
              local n = tonumber(o)
              if n > frontier then frontier = n end
            end
            redis.call('SET', p .. 'frontier', fmt(frontier))
            redis.call('HINCRBY', p .. 'stats', 'admittedTotal', k)
            redis.call('HSET', p .. 'stats', 'lastTickMs', fmt(nowMs), 'lastTickCount', k)
            redis.call('PUBLISH', p .. 'ev', 'tick ' .. fmt(frontier) .. ' ' .. fmt(nowMs) .. ' ' .. k)
          end
        end
        return {'OK', k, frontier, redis.call('ZCARD', p .. 'q'), redis.call('ZCARD', p .. 'active'), #expired, openDue, nowMs}
        """)

    /// `sweep(now, batch)`: edges without a heartbeat for 10 s count as gone (their streams closed
    /// at their last heartbeat); then up to `batch` waiting places not seen since
    /// `now − abandonAfter` become abandoned (state `x`, departure `r=x`).
    /// Returns `{abandoned, deadEdges, streamsClosed}`.
    public static let sweep = script("""
        local now = now_or_time(ARGV[1])
        local batch = tonumber(ARGV[2])
        local closed = 0
        local dead = redis.call('ZRANGEBYSCORE', p .. 'edgehb', '-inf', fmt(now - 10000))
        for _, id in ipairs(dead) do
          local hb = redis.call('ZSCORE', p .. 'edgehb', id)
          for _, o in ipairs(redis.call('SMEMBERS', p .. 'edge:' .. id)) do
            local s = redis.call('ZSCORE', p .. 'seen', o)
            if s and tonumber(s) >= 9e15 then
              redis.call('ZADD', p .. 'seen', 'XX', hb, o)
              closed = closed + 1
            end
          end
          redis.call('DEL', p .. 'edge:' .. id)
          redis.call('ZREM', p .. 'edgehb', id)
        end
        local abandoned = 0
        local after = tonumber(redis.call('HGET', p .. 'cfg', 'abandonAfter') or '0')
        if after > 0 then
          local stale = redis.call('ZRANGEBYSCORE', p .. 'seen', '-inf', '(' .. fmt(now - after * 1000), 'LIMIT', 0, batch)
          for _, o in ipairs(stale) do
            redis.call('ZREM', p .. 'q', o)
            redis.call('ZREM', p .. 'seen', o)
            redis.call('HSET', p .. 'state', seq_of(o), 'x')
            depart(o, 'x')
            abandoned = abandoned + 1
          end
          if abandoned > 0 then redis.call('HINCRBY', p .. 'stats', 'abandonedTotal', abandoned) end
        end
        return {abandoned, #dead, closed}
        """)

    /// `open(leaseId or '', fallbackSeed)`: the pre-queue lottery. Every seq `1…N` of the cohort
    /// (N = joins so far) gets order = rank of `SHA1(seed .. ':' .. seq)` (hex ascending; ties by
    /// seq). Waiting members enter the line (seen = now); members who left get a departure.
    /// Reveals the seed (`cfg.seed`), publishes `open N seed`. The stored secret seed wins over
    /// `fallbackSeed`. Returns `{'OK', N, seed}`, `{'ALREADY_OPEN'}` or `{'FENCED'}`.
    public static let open = script("""
        if ARGV[1] ~= '' and redis.call('GET', p .. 'lease') ~= ARGV[1] then return {'FENCED'} end
        if is_open() then return {'ALREADY_OPEN'} end
        local seed = redis.call('GET', p .. 'secret') or ARGV[2]
        local now = redis_ms()
        local n = tonumber(redis.call('GET', p .. 'seq') or '0')
        local items = {}
        for seq = 1, n do items[seq] = {redis.sha1hex(seed .. ':' .. seq), seq} end
        table.sort(items, function(a, b)
          if a[1] == b[1] then return a[2] < b[2] end
          return a[1] < b[1]
        end)
        for order, item in ipairs(items) do
          local seq = item[2]
          if order ~= seq then
            redis.call('HSET', p .. 'state', 'o:' .. seq, order, 's:' .. order, seq)
          end
          local st = redis.call('HGET', p .. 'state', seq)
          if st == 'w' then
            redis.call('ZADD', p .. 'q', order, order)
            redis.call('ZADD', p .. 'seen', fmt(now), order)
          else
            depart(order, 'l')
          end
        end
        redis.call('DEL', p .. 'pre', p .. 'secret')
        if not redis.call('HGET', p .. 'cfg', 'seedHash') then
          redis.call('HSET', p .. 'cfg', 'seedHash', redis.sha1hex(seed))
        end
        redis.call('HSET', p .. 'cfg', 'open', '1', 'cohort', n, 'seed', seed)
        redis.call('PUBLISH', p .. 'ev', 'open ' .. n .. ' ' .. seed)
        return {'OK', n, seed}
        """)

    /// `lease(leaseId, ttlMs)`: acquire when free (`SET NX PX`), extend when already ours
    /// (compare-and-extend). Returns 1 when `leaseId` holds the lease afterwards, else 0.
    public static let lease = script("""
        local current = redis.call('GET', p .. 'lease')
        if not current then
          redis.call('SET', p .. 'lease', ARGV[1], 'PX', ARGV[2])
          return 1
        end
        if current == ARGV[1] then
          redis.call('PEXPIRE', p .. 'lease', ARGV[2])
          return 1
        end
        return 0
        """)

    /// `renew(leaseId, ttlMs)`: extend only when ours (never acquires). Returns 1 or 0.
    public static let renew = script("""
        if redis.call('GET', p .. 'lease') ~= ARGV[1] then return 0 end
        redis.call('PEXPIRE', p .. 'lease', ARGV[2])
        return 1
        """)

    /// `release(leaseId)`: delete the lease only when ours. Returns 1 or 0.
    public static let release = script("""
        if redis.call('GET', p .. 'lease') ~= ARGV[1] then return 0 end
        redis.call('DEL', p .. 'lease')
        return 1
        """)

    /// `soldOut()`: sets `cfg.soldOut` and publishes `soldout` (first time only).
    /// Returns 1 when it changed, else 0.
    public static let soldOut = script("""
        if redis.call('HGET', p .. 'cfg', 'soldOut') == '1' then return 0 end
        redis.call('HSET', p .. 'cfg', 'soldOut', '1')
        redis.call('PUBLISH', p .. 'ev', 'soldout')
        return 1
        """)

    /// `snapshot(afterId or '', count)`: one atomic read for an edge tracker:
    /// `{frontier, departures (XRANGE after afterId, exclusive, COUNT count), cfg (HGETALL),
    /// lastTickMs, lastTickCount}`.
    public static let snapshot = script("""
        local start = '-'
        if ARGV[1] ~= '' and ARGV[1] ~= '-' and ARGV[1] ~= '0' then start = '(' .. ARGV[1] end
        local deps = redis.call('XRANGE', p .. 'dep', start, '+', 'COUNT', ARGV[2])
        local last = redis.call('HMGET', p .. 'stats', 'lastTickMs', 'lastTickCount')
        return {redis.call('GET', p .. 'frontier') or '0', deps, redis.call('HGETALL', p .. 'cfg'),
          last[1] or '0', last[2] or '0'}
        """)

    /// `stats()`: `{waiting, active, preQueue, frontier, lastSeq, stats (HGETALL), cfg (HGETALL)}`.
    public static let stats = script("""
        return {redis.call('ZCARD', p .. 'q'), redis.call('ZCARD', p .. 'active'),
          redis.call('ZCARD', p .. 'pre'), redis.call('GET', p .. 'frontier') or '0',
          redis.call('GET', p .. 'seq') or '0', redis.call('HGETALL', p .. 'stats'),
          redis.call('HGETALL', p .. 'cfg')}
        """)

    /// Every script, e.g. to `SCRIPT LOAD` them up front.
    public static let all: [RedisScript] = [
        configure, join, leave, touch, states, presence, admit, sweep, open, lease, renew, release,
        soldOut, snapshot, stats,
    ]
}
