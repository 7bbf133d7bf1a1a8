import Foundation
import NIOCore
import NIOPosix
@testable import Redis
import Synchronization
import Testing

/// Against the local three-master Redis Cluster (`scripts/services.sh cluster-start`,
/// `WAITROOM_TEST_REDIS_CLUSTER_URL`). Serialized: the migration test moves a slot.
@Suite(.serialized) struct RedisClusterTests {
    @Test func commandsSpreadOverTheThreeMastersAndPipelinesKeepTheirOrder() async throws {
        let client = try await ClusterTestSupport.client()
        defer { Task { await client.close() } }
        let prefix = TestSupport.uniquePrefix()
        let keys = (0..<300).map { "\(prefix)\($0)" }

        let set = try await client.pipeline(keys.enumerated().map { ["SET", RedisArgument($1), RedisArgument("v\($0)")] })
        #expect(set.allSatisfy { $0.string == "OK" })
        let got = try await client.pipeline(keys.map { ["GET", RedisArgument($0)] })
        #expect(got.map(\.string) == keys.indices.map { "v\($0)" })
        // One slot's commands keep their order inside a pipeline spread over the nodes.
        let counter = prefix + "counter"
        let mixed = try await client.pipeline([["INCR", RedisArgument(counter)], ["GET", RedisArgument(keys[0])],
                                               ["INCR", RedisArgument(counter)], ["GET", RedisArgument(keys[1])],
                                               ["INCRBY", RedisArgument(counter), 10], ["GET", RedisArgument(counter)]])
        #expect(mixed == [.integer(1), got[0], .integer(2), got[1], .integer(12), .bulkString(ByteBuffer(string: "12"))])

        // Every key is where the slot map says, and only there: the owner has it, another node
        // answers MOVED.
        var owners: [RedisEndpoint: [String]] = [:]
        for key in keys {
            let owner = try #require(client.clusterNode(forSlot: RedisHashSlot.slot(of: key)))
            owners[owner, default: []].append(key)
        }
        #expect(owners.count == 3)
        for (owner, owned) in owners {
            let node = try await ClusterTestSupport.nodeClient(owner)
            let values = try await node.pipeline(owned.map { ["GET", RedisArgument($0)] })
            #expect(values.map(\.string) == owned.map { key in "v\(keys.firstIndex(of: key)!)" })
            let other = owners.keys.first { $0 != owner }!
            let stranger = try await ClusterTestSupport.nodeClient(other)
            let misplaced = try await stranger.pipeline([["GET", RedisArgument(owned[0])]])
            #expect(misplaced[0].errorMessage?.hasPrefix("MOVED \(RedisHashSlot.slot(of: owned[0])) \(owner)") == true)
            await node.close()
            await stranger.close()
        }
        _ = try await client.send(["DEL", RedisArgument(counter)])
        for key in keys { _ = try await client.send("DEL", RedisArgument(key)) }
    }

    @Test func aSlotMigratedMidTestIsFollowedThroughAskThenMoved() async throws {
        let client = try await ClusterTestSupport.client { $0.clusterMaxRetries = 12; $0.clusterRetryBackoffMax = .milliseconds(200) }
        defer { Task { await client.close() } }
        let tag = "mig-\(UUID().uuidString)"
        let slot = RedisHashSlot.slot(of: tag)
        let key = (0..<4).map { RedisArgument("{\(tag)}:k\($0)") }
        for i in 0..<3 { _ = try await client.send("SET", key[i], RedisArgument("v\(i)")) }

        let source = try #require(client.clusterNode(forSlot: slot))
        let masters = try await ClusterTestSupport.masters()
        let target = try #require(masters.first { $0 != source })
        let nodes = try await withThrowingTaskGroup(of: (RedisEndpoint, RedisClient).self) { group in
            for master in masters { group.addTask { (master, try await ClusterTestSupport.nodeClient(master)) } }
            return try await group.reduce(into: [RedisEndpoint: RedisClient]()) { $0[$1.0] = $1.1 }
        }
        let sourceID = try #require(try await nodes[source]!.send("CLUSTER", "MYID").string)
        let targetID = try #require(try await nodes[target]!.send("CLUSTER", "MYID").string)

        // A failure half-way must not leave the shared cluster with a slot in migration.
        do {
            // Half-way: k0 moved to the target, k1 and k2 still on the source.
            _ = try await nodes[target]!.send("CLUSTER", "SETSLOT", RedisArgument(slot), "IMPORTING", RedisArgument(sourceID))
            _ = try await nodes[source]!.send("CLUSTER", "SETSLOT", RedisArgument(slot), "MIGRATING", RedisArgument(targetID))
            _ = try await nodes[source]!.send("MIGRATE", RedisArgument(target.host), RedisArgument(target.port), "", 0, 5000, "KEYS", key[0])

            let before = try #require(client.clusterStatistics)
            #expect(try await client.send("GET", key[0]).string == "v0")  // ASK to the target
            #expect(try await client.send("GET", key[1]).string == "v1")  // still on the source
            #expect(try await client.send("SET", key[3], "v3").string == "OK")  // a new key: ASK, made on the target
            #expect(try await client.send("INCR", RedisArgument("{\(tag)}:n")).int == 1)
            #expect(try await client.send("GET", key[3]).string == "v3")
            let asked = try #require(client.clusterStatistics)
            #expect(asked.asked - before.asked == 4)
            #expect(asked.moved == before.moved)
            #expect(client.clusterNode(forSlot: slot) == source)  // ASK leaves the map alone
            let onTarget = try await nodes[target]!.pipeline([["ASKING"], ["EXISTS", key[0], key[3]]])
            #expect(onTarget[1] == .integer(2))

            // k0 is on the target, k1 on the source: TRYAGAIN until the migration ends below.
            let mget = Task { try await client.send("MGET", key[0], key[1]) }
            try await TestSupport.withDeadline(5, "a TRYAGAIN retry") {
                while client.clusterStatistics!.retried == asked.retried { try await Task.sleep(for: .milliseconds(5)) }
            }

            while true {
                let left = try await nodes[source]!.send("CLUSTER", "GETKEYSINSLOT", RedisArgument(slot), 100).array ?? []
                if left.isEmpty { break }
                let names = left.compactMap(\.bytes).map { RedisArgument(bytes: $0) }
                _ = try await nodes[source]!.send(["MIGRATE", RedisArgument(target.host), RedisArgument(target.port), "", 0, 5000, "KEYS"] + names)
            }
            for node in [target, source] + masters.filter({ $0 != source && $0 != target }) {
                _ = try await nodes[node]!.send("CLUSTER", "SETSLOT", RedisArgument(slot), "NODE", RedisArgument(targetID))
            }

            #expect(try await mget.value.array?.map(\.string) == ["v0", "v1"])
            #expect(try await client.send("GET", key[2]).string == "v2")
            let after = try #require(client.clusterStatistics)
            #expect(after.moved > asked.moved)
            #expect(client.clusterNode(forSlot: slot) == target)
            for i in 0..<4 { #expect(try await client.send("GET", key[i]).string == "v\(i)") }
            #expect(try await nodes[target]!.send("GET", key[1]).string == "v1")
        } catch {
            for node in nodes.values { _ = try? await node.send("CLUSTER", "SETSLOT", RedisArgument(slot), "STABLE") }
            throw error
        }

        _ = try await client.send(["DEL"] + key + [RedisArgument("{\(tag)}:n")])
        for node in nodes.values { await node.close() }
    }

    @Test func aScriptWithKeysInTwoSlotsIsRefusedWithoutBeingSent() async throws {
        let client = try await ClusterTestSupport.client()
        defer { Task { await client.close() } }
        // A script no node knows yet: EVALSHA gets NOSCRIPT, SCRIPT LOAD goes to every master.
        let script = RedisScript(source: "-- \(UUID().uuidString)\nreturn redis.call('INCRBY', KEYS[1], ARGV[1]) + #KEYS")
        let tag = "script-\(UUID().uuidString)"
        let sameSlot = [RedisArgument("{\(tag)}:a"), RedisArgument("{\(tag)}:b")]
        #expect(try await client.eval(script, keys: sameSlot, args: [5]).int == 7)

        let before = try #require(client.clusterStatistics)
        let twoSlots = [RedisArgument("{\(tag)}:a"), RedisArgument("{other-\(tag)}:b")]
        #expect(RedisHashSlot.slot(of: twoSlots[0].bytes) != RedisHashSlot.slot(of: twoSlots[1].bytes))
        await #expect {
            try await client.eval(script, keys: twoSlots, args: [1])
        } throws: { error in
            guard let error = error as? RedisError else { return false }
            return error.code == .server("CROSSSLOT") && error.message.contains("refused by the client")
        }
        #expect(try #require(client.clusterStatistics).refusedCrossSlot == before.refusedCrossSlot + 1)
        #expect(try await client.send("GET", sameSlot[0]).string == "5")  // not run a second time

        for master in try await ClusterTestSupport.masters() {
            let node = try await ClusterTestSupport.nodeClient(master)
            #expect(try await node.send("SCRIPT", "EXISTS", RedisArgument(script.sha1)).array == [.integer(1)], "\(master)")
            await node.close()
        }
        _ = try await client.send(["DEL"] + sameSlot)
    }

    @Test func theSubscriberMovesToAnotherNodeWhenItsNodeDies() async throws {
        let cluster = try await PrivateRedisCluster()
        defer { cluster.stop() }
        let client = RedisClient(configuration: try RedisConfiguration(url: cluster.url),
                                 eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        defer { Task { await client.close() } }
        try await client.ping()
        let subscriber = client.makeSubscriber()
        let channel = "wr:{\(UUID().uuidString)}:ev"
        let stream = try await subscriber.subscribe(to: [channel])
        let log = PayloadLog()
        let received = Task {
            for await message in stream { log.append(message.payload.string ?? "") }
        }
        defer { received.cancel() }
        func waitUntilHeard(_ payload: String, within seconds: Double) async throws {
            try await TestSupport.withDeadline(seconds, "hearing '\(payload)'") {
                while !log.contains(payload) { try await Task.sleep(for: .milliseconds(20)) }
            }
        }

        // PUBLISH goes to any node; the cluster bus brings it to the subscriber's node.
        let holder = try await cluster.subscriberNode(of: channel)
        _ = try await client.publish(channel: channel, message: "before")
        try await waitUntilHeard("before", within: 5)
        cluster.kill(holder)

        // Publish until the subscriber, back on a surviving node, hears it.
        let publisher = Task {
            while !Task.isCancelled {
                _ = try? await client.publish(channel: channel, message: "after")
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { publisher.cancel() }
        try await waitUntilHeard("after", within: 15)
        let newHolder = try await cluster.subscriberNode(of: channel)
        #expect(newHolder != holder)
        await subscriber.close()
    }
}

/// Payloads a subscription received, readable from the test while the stream is consumed.
final class PayloadLog: Sendable {
    private let payloads = Mutex<[String]>([])
    func append(_ payload: String) { payloads.withLock { $0.append(payload) } }
    func contains(_ payload: String) -> Bool { payloads.withLock { $0.contains(payload) } }
}

enum ClusterTestSupport {
    /// The shared local cluster of the test run.
    static var url: String {
        ProcessInfo.processInfo.environment["WAITROOM_TEST_REDIS_CLUSTER_URL"]
            ?? "redis-cluster://127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303"
    }

    /// A cluster-mode client; fails loudly when the cluster does not answer.
    static func client(configure: (inout RedisConfiguration) -> Void = { _ in }) async throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url)
        configure(&configuration)
        let client = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw TestFailure("Redis Cluster at \(url) is unreachable (\(error)); run scripts/services.sh cluster-start")
        }
        return client
    }

    /// A plain single-server client of one node: no routing, no redirects.
    static func nodeClient(_ endpoint: RedisEndpoint) async throws -> RedisClient {
        RedisClient(configuration: RedisConfiguration(host: endpoint.host, port: endpoint.port, poolSize: 1),
                    eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
    }

    /// The masters serving slots, from `CLUSTER SLOTS` of the first seed.
    static func masters() async throws -> [RedisEndpoint] {
        let seed = try RedisConfiguration(url: url).clusterNodes[0]
        let node = try await nodeClient(seed)
        let map = try RedisSlotMap(clusterSlots: try await node.send("CLUSTER", "SLOTS"), replyingNode: seed)
        await node.close()
        return map.masters
    }
}

/// Three `redis-server --cluster-enabled yes` children on free ports, joined by
/// `redis-cli --cluster create`: a cluster a test may break.
final class PrivateRedisCluster: @unchecked Sendable {  // used from one test task at a time
    private let servers: [RedisServerProcess]
    private let files: [String]

    var endpoints: [RedisEndpoint] { servers.map { RedisEndpoint(host: "127.0.0.1", port: $0.port) } }
    var url: String { "redis-cluster://" + endpoints.map(\.description).joined(separator: ",") }

    init() async throws {
        var servers: [RedisServerProcess] = []
        var files: [String] = []
        for _ in 0..<3 {
            let file = NSTemporaryDirectory() + "waitroom-cluster-\(UUID().uuidString).conf"
            files.append(file)
            // The bus port defaults to port + 10000, too high for the kernel's free ports.
            let bus = try await RedisServerProcess.freePort()
            servers.append(try await RedisServerProcess(arguments: [
                "--cluster-enabled", "yes", "--cluster-port", "\(bus)", "--cluster-config-file", file, "--cluster-node-timeout", "1000",
                "--cluster-require-full-coverage", "no",
            ]))
        }
        self.servers = servers
        self.files = files
        let create = Process()
        create.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        create.arguments = ["--cluster", "create"] + endpoints.map(\.description) + ["--cluster-replicas", "0", "--cluster-yes"]
        create.standardOutput = FileHandle.nullDevice
        create.standardError = FileHandle.nullDevice
        try create.run()
        create.waitUntilExit()
        guard create.terminationStatus == 0 else { throw TestFailure("redis-cli --cluster create failed") }
        let ready = try await TestSupport.withDeadline(20, "private cluster") { [endpoints] in
            while true {
                var ok = true
                for endpoint in endpoints {
                    let node = try await ClusterTestSupport.nodeClient(endpoint)
                    let info = (try? await node.send("CLUSTER", "INFO").string) ?? ""
                    await node.close()
                    ok = ok && info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
                }
                if ok { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        guard ready else { throw TestFailure("private cluster not ready") }
    }

    /// The node whose clients subscribe to `channel` (`PUBSUB NUMSUB` counts local subscribers).
    func subscriberNode(of channel: String) async throws -> RedisEndpoint {
        for (index, endpoint) in endpoints.enumerated() where servers[index].isRunning {
            let node = try await ClusterTestSupport.nodeClient(endpoint)
            let reply = try await node.send("PUBSUB", "NUMSUB", RedisArgument(channel))
            await node.close()
            if reply.array?.last?.int == 1 { return endpoint }
        }
        throw TestFailure("no node has a subscriber of \(channel)")
    }

    /// SIGKILL of one node.
    func kill(_ endpoint: RedisEndpoint) {
        servers.first { $0.port == endpoint.port }?.kill()
    }

    func stop() {
        for server in servers { server.kill() }
        for file in files { try? FileManager.default.removeItem(atPath: file) }
    }
}
