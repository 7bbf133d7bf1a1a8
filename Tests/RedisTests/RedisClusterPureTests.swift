import NIOCore
@testable import Redis
import Testing

/// Cluster mode without a server: slots, redirects, slot maps, routes, the redirect state machine.
@Suite struct RedisClusterPureTests {
    @Test func crc16MatchesTheXmodemCheckValue() {
        #expect(RedisHashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisHashSlot.crc16([UInt8]()) == 0)
    }

    // The slots `CLUSTER KEYSLOT` of Redis 7.0 gives for these keys.
    @Test(arguments: [
        ("123456789", 12739), ("foo", 12182), ("bar", 5061), ("hello", 866), ("", 0),
        ("{user1000}.following", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015),
        ("foo{bar}{zap}", 5061), ("{}", 15257), ("a}{b", 11640), ("wr:{demo}:q", 903),
    ])
    func slotsAreThoseOfRedis(key: String, slot: Int) {
        #expect(RedisHashSlot.slot(of: key) == slot)
    }

    @Test func hashTagRules() {
        // The first non-empty {…} only: all keys of one event share the slot of its id.
        #expect(RedisHashSlot.slot(of: "wr:{e1}:q") == RedisHashSlot.slot(of: "e1"))
        #expect(RedisHashSlot.slot(of: "wr:{e1}:seq") == RedisHashSlot.slot(of: "wr:{e1}:edge:abc"))
        #expect(RedisHashSlot.slot(of: "foo{bar}{zap}") == RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "foo{{bar}}zap") == RedisHashSlot.slot(of: "{bar"))
        // An empty first tag, or no closing brace: the whole key.
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") != RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "x{abc") == Int(RedisHashSlot.crc16(Array("x{abc".utf8)) & 0x3FFF))
        // Binary keys.
        #expect(RedisHashSlot.slot(of: [0xFF, UInt8(ascii: "{"), 0x00, UInt8(ascii: "}")]) == RedisHashSlot.slot(of: [0x00]))
    }

    @Test func parsesRedirects() {
        let node = RedisEndpoint(host: "10.0.0.9", port: 7000)
        #expect(RedisClusterRedirect(errorMessage: "MOVED 3999 127.0.0.1:6381", replyingNode: node)
                == .moved(slot: 3999, to: RedisEndpoint(host: "127.0.0.1", port: 6381)))
        #expect(RedisClusterRedirect(errorMessage: "ASK 12182 127.0.0.1:7302", replyingNode: node)
                == .ask(slot: 12182, to: RedisEndpoint(host: "127.0.0.1", port: 7302)))
        // No host: the node that answered.
        #expect(RedisClusterRedirect(errorMessage: "MOVED 1 :7003", replyingNode: node)
                == .moved(slot: 1, to: RedisEndpoint(host: "10.0.0.9", port: 7003)))
        #expect(RedisClusterRedirect(errorMessage: "MOVED 2 ::1:7004", replyingNode: node)
                == .moved(slot: 2, to: RedisEndpoint(host: "::1", port: 7004)))
        #expect(RedisClusterRedirect(errorMessage: "TRYAGAIN Multiple keys request during rehashing of slot", replyingNode: node) == .tryAgain)
        #expect(RedisClusterRedirect(errorMessage: "CLUSTERDOWN The cluster is down", replyingNode: node) == .clusterDown)
        for other in ["ERR unknown command", "MOVED", "MOVED x 1.2.3.4:5", "MOVED 16384 1.2.3.4:5", "ASK 1 nohost",
                      "MOVED 1 1.2.3.4:0", "CROSSSLOT Keys in request don't hash to the same slot", "NOSCRIPT No matching script"] {
            #expect(RedisClusterRedirect(errorMessage: other, replyingNode: node) == nil, "\(other)")
        }
    }

    @Test func slotMapFromClusterSlots() throws {
        func node(_ host: String, _ port: Int, _ id: String) -> RedisValue {
            .array([.bulkString(ByteBuffer(string: host)), .integer(Int64(port)), .bulkString(ByteBuffer(string: id))])
        }
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), node("127.0.0.1", 7301, "a"), node("127.0.0.1", 7304, "a2")]),
            .array([.integer(5461), .integer(10922), node("", 7302, "b")]),
            .array([.integer(10923), .integer(16383), node("127.0.0.1", 7303, "c")]),
            .array([.integer(12000), .integer(12000), node("127.0.0.1", 7301, "a")]),
        ])
        let map = try RedisSlotMap(clusterSlots: reply, replyingNode: RedisEndpoint(host: "10.1.1.1", port: 7302))
        let a = RedisEndpoint(host: "127.0.0.1", port: 7301)
        let b = RedisEndpoint(host: "10.1.1.1", port: 7302)
        let c = RedisEndpoint(host: "127.0.0.1", port: 7303)
        #expect(map.node(forSlot: 0) == a)
        #expect(map.node(forSlot: 5460) == a)
        #expect(map.node(forSlot: 5461) == b)
        #expect(map.node(forSlot: 10922) == b)
        #expect(map.node(forSlot: 10923) == c)
        #expect(map.node(forSlot: 12000) == a)
        #expect(map.node(forSlot: 16383) == c)
        #expect(map.masters == [a, b, c])  // the replica 7304 is no master

        var moved = map
        for slot in 5461...10922 { moved.assign(slot: slot, to: c) }
        #expect(moved.masters == [a, c])
        #expect(moved.node(forSlot: 6000) == c)

        let partial = try RedisSlotMap(clusterSlots: .array([.array([.integer(0), .integer(9), node("h", 1, "x")])]),
                                       replyingNode: a)
        #expect(partial.node(forSlot: 10) == nil)
        #expect(RedisSlotMap().isEmpty)
        #expect(throws: RedisError.self) { try RedisSlotMap(clusterSlots: .simpleString("OK"), replyingNode: a) }
        #expect(throws: RedisError.self) {
            try RedisSlotMap(clusterSlots: .array([.array([.integer(5), .integer(16384), node("h", 1, "x")])]), replyingNode: a)
        }
    }

    @Test func routesByKeys() {
        let slot = RedisHashSlot.slot(of: "wr:{e}:")
        #expect(RedisCommandRoute.of(["GET", "foo"]) == .slot(12182))
        #expect(RedisCommandRoute.of(["hset", "wr:{e}:cfg", "rate", "1"]) == .slot(slot))
        #expect(RedisCommandRoute.of(["EVALSHA", "abc", "2", "wr:{e}:", "wr:{e}:q", "notakey"]) == .slot(slot))
        #expect(RedisCommandRoute.of(["EVAL", "return 1", "0", "x"]) == .anyNode)
        #expect(RedisCommandRoute.of(["MGET", "{t}a", "{t}b", "{t}c"]) == .slot(RedisHashSlot.slot(of: "t")))
        #expect(RedisCommandRoute.of(["MSET", "{t}a", "bar", "{t}b", "foo"]) == .slot(RedisHashSlot.slot(of: "t")))
        #expect(RedisCommandRoute.of(["XREAD", "COUNT", "5", "STREAMS", "{s}1", "{s}2", "0", "0"]) == .slot(RedisHashSlot.slot(of: "s")))
        #expect(RedisCommandRoute.of(["RENAME", "{t}a", "{t}b"]) == .slot(RedisHashSlot.slot(of: "t")))
        #expect(RedisCommandRoute.of(["SET", "foo", "bar"]) == .slot(12182))  // the value is no key
        for keyless: [RedisArgument] in [["PING"], ["TIME"], ["PUBLISH", "wr:{e}:ev", "x"], ["SCAN", "0"], ["SCRIPT", "EXISTS", "abc"], ["CLUSTER", "SLOTS"]] {
            #expect(RedisCommandRoute.of(keyless) == .anyNode, "\(keyless)")
        }
        for everywhere: [RedisArgument] in [["SCRIPT", "LOAD", "return 1"], ["script", "flush"], ["FLUSHDB"], ["FLUSHALL", "ASYNC"]] {
            #expect(RedisCommandRoute.of(everywhere) == .allMasters, "\(everywhere)")
        }
    }

    @Test func refusesKeysInTwoSlots() {
        for command: [RedisArgument] in [["EVALSHA", "abc", "2", "foo", "bar"], ["DEL", "foo", "bar"], ["MSET", "foo", "1", "bar", "2"],
                                         ["RENAME", "foo", "bar"]] {
            guard case .crossSlot(let message) = RedisCommandRoute.of(command) else {
                Issue.record("\(command) not refused")
                continue
            }
            #expect(message.hasPrefix("CROSSSLOT "))
            #expect(message.contains("slot 12182") && message.contains("slot 5061"))
        }
    }

    @Test func stateMachineFollowsMovedAndAskUpToTheLimit() {
        let a = RedisEndpoint(host: "127.0.0.1", port: 7301)
        let b = RedisEndpoint(host: "127.0.0.1", port: 7302)
        var machine = RedisClusterRequestStateMachine(maxRedirects: 2, maxRetries: 1,
                                                      retryBackoff: RedisBackoff(minimum: .milliseconds(10), maximum: .seconds(1)))
        #expect(machine.replyReceived(.integer(1), from: a) == .deliver(.integer(1)))
        #expect(machine.replyReceived(.error("WRONGTYPE x"), from: a) == .deliver(.error("WRONGTYPE x")))
        #expect(machine.replyReceived(.error("MOVED 7 127.0.0.1:7302"), from: a) == .moved(slot: 7, to: b))
        #expect(machine.replyReceived(.error("ASK 7 :7301"), from: b) == .ask(a))
        // Third redirect: over the limit, the error goes to the caller.
        #expect(machine.replyReceived(.error("MOVED 7 127.0.0.1:7302"), from: a) == .deliver(.error("MOVED 7 127.0.0.1:7302")))
        #expect(machine.redirects == 2)
    }

    @Test func stateMachineRetriesWithBackoffThenGivesUp() {
        let a = RedisEndpoint(host: "127.0.0.1", port: 7301)
        var machine = RedisClusterRequestStateMachine(maxRedirects: 5, maxRetries: 3,
                                                      retryBackoff: RedisBackoff(minimum: .milliseconds(10), maximum: .milliseconds(30)))
        #expect(machine.replyReceived(.error("TRYAGAIN later"), from: a, random: 1) == .retry(after: .milliseconds(10)))
        #expect(machine.replyReceived(.error("CLUSTERDOWN down"), from: a, random: 1) == .retry(after: .milliseconds(20)))
        #expect(machine.slotUnserved(9, random: 1) == .retry(after: .milliseconds(30)))
        #expect(machine.replyReceived(.error("TRYAGAIN later"), from: a) == .deliver(.error("TRYAGAIN later")))
        guard case .deliver(.error(let message)) = machine.slotUnserved(9) else {
            Issue.record("an unserved slot past the retries must fail")
            return
        }
        #expect(message.hasPrefix("CLUSTERDOWN"))
        // Redirects are counted apart from retries.
        #expect(machine.replyReceived(.error("MOVED 9 :7302"), from: a) == .moved(slot: 9, to: RedisEndpoint(host: "127.0.0.1", port: 7302)))
    }

    @Test func parsesClusterURLs() throws {
        let configuration = try RedisConfiguration(url: "redis-cluster://:pw@127.0.0.1:7301,127.0.0.1:7302,[::1]:7303")
        #expect(configuration.isCluster)
        #expect(configuration.clusterNodes == [RedisEndpoint(host: "127.0.0.1", port: 7301), RedisEndpoint(host: "127.0.0.1", port: 7302),
                                               RedisEndpoint(host: "::1", port: 7303)])
        #expect(configuration.host == "127.0.0.1" && configuration.port == 7301)
        #expect(configuration.password == "pw")
        #expect(configuration.database == 0)
        #expect(try RedisConfiguration(url: "redis-cluster://h1/0").clusterNodes == [RedisEndpoint(host: "h1", port: 6379)])
        #expect(try !RedisConfiguration(url: "redis://h1:7301").isCluster)
        for bad in ["redis-cluster://h1:7301/1", "redis-cluster://h1:7301,,h2:7302", "redis-cluster://", "redis-cluster://h1:x"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
        let node = configuration.node(RedisEndpoint(host: "10.0.0.1", port: 9))
        #expect(node.host == "10.0.0.1" && node.port == 9 && !node.isCluster && node.password == "pw")
    }
}
