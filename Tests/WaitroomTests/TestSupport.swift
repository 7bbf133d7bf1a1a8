import Foundation
import Logging
import NIOPosix
import Redis
import Waitroom

enum TestSupport {
    static var redisURL: String {
        ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] ?? "redis://127.0.0.1:6391"
    }

    static let logger: Logger = {
        var logger = Logger(label: "waitroom-tests")
        logger.logLevel = .notice
        return logger
    }()

    /// A fresh client of the shared Redis; fails loudly (never skips) when Redis does not answer.
    static func client() async throws -> RedisClient {
        let configuration = try RedisConfiguration(url: redisURL)
        let client = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw TestFailure("Redis at \(redisURL) is unreachable (\(error)). Start it "
                + "(`redis-server --port 6391 --save '' --appendonly no --daemonize yes`) or set WAITROOM_REDIS_URL.")
        }
        return client
    }

    /// An event id no other test uses.
    static func eventID(_ name: String = #function) -> String {
        let base = name.prefix { $0 != "(" }.prefix(24)
        return "t-\(base)-\(UUID().uuidString.prefix(8))"
    }

    /// Deletes every key of `event` and its `wr:events` entry. The `SCAN` goes to the server of
    /// the event's keys: in a Redis Cluster, the master of their slot (they share a hash tag).
    static func cleanUp(_ event: String, client: RedisClient) async {
        let keys = QueueKeys(event: event)
        var cursor = "0"
        repeat {
            guard let reply = try? await client.send(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(keys.prefix + "*"), "COUNT", 1000],
                                                   onNodeOf: RedisArgument(keys.prefix)),
                  let parts = reply.array, parts.count == 2 else { return }
            cursor = parts[0].string ?? "0"
            let found = (parts[1].array ?? []).compactMap(\.string).map { RedisArgument($0) }
            if !found.isEmpty { _ = try? await client.send(["DEL"] + found) }
        } while cursor != "0"
        _ = try? await client.send("SREM", RedisArgument(QueueKeys.events), RedisArgument(event))
    }

    /// Redis `TIME` in unix ms.
    static func redisNow(_ client: RedisClient) async throws -> Int64 {
        let reply = try await client.send("TIME")
        guard let parts = reply.array, parts.count == 2, let s = parts[0].int, let us = parts[1].int else {
            throw TestFailure("bad TIME reply \(reply)")
        }
        return Int64(s) * 1000 + Int64(us / 1000)
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
    static func eventually(within seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// Joins `count` anonymous places concurrently (in chunks), returning the results by seq.
    static func joinMany(_ store: QueueStore, event: String, count: Int, userPrefix: String? = nil, now: Int64? = nil) async throws -> [JoinResult] {
        var results: [JoinResult] = []
        let chunk = 100
        var start = 0
        while start < count {
            let end = min(count, start + chunk)
            let batch = try await withThrowingTaskGroup(of: JoinResult.self) { group in
                for i in start..<end {
                    group.addTask { try await store.join(event: event, userId: userPrefix.map { "\($0)\(i)" }, now: now) }
                }
                return try await group.reduce(into: [JoinResult]()) { $0.append($1) }
            }
            results += batch
            start = end
        }
        return results.sorted { $0.seq < $1.seq }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A small deterministic generator (SplitMix64), so a failing random run can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
