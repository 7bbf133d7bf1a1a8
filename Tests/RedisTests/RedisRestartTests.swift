import Foundation
import NIOCore
import NIOPosix
import Redis
import Synchronization
import Testing

/// Each test runs its own private redis-server, which it kills and restarts.
@Suite struct RedisRestartTests {
    private func client(for server: RedisServerProcess, poolSize: Int = 2) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: server.url)
        configuration.poolSize = poolSize
        configuration.connectTimeout = .milliseconds(500)
        configuration.commandTimeout = .seconds(10)
        configuration.reconnectBackoffMin = .milliseconds(20)
        configuration.reconnectBackoffMax = .milliseconds(300)
        return RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
    }

    /// Retries `operation` until it succeeds or `seconds` pass.
    private func eventually<T: Sendable>(_ seconds: Double, _ operation: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            do {
                return try await operation()
            } catch {
                if ContinuousClock.now > deadline { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    @Test func restartMidStreamFailsInFlightAndThenRecovers() async throws {
        let server = try await RedisServerProcess()
        let client = try client(for: server)
        try await client.ping()
        let key = "restart:counter"

        // A command that is surely in flight when the server dies, on a client of its own: the
        // pool pipelines, so a blocking command holds up whatever is queued behind it on its
        // connection (the stream below would stall behind it).
        let blocking = try self.client(for: server, poolSize: 1)
        let blocked = Task { try await blocking.send("BLPOP", "restart:never", 30) }
        // And a stream of commands from several tasks, counted as they go.
        let stream = StreamCounters()
        let outcomes = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !stream.stop.load(ordering: .relaxed) {
                            do {
                                _ = try await client.pipeline(Array(repeating: ["INCR", RedisArgument(key)], count: 50))
                                stream.ok.add(1, ordering: .relaxed)
                            } catch is RedisError {
                                stream.failed.add(1, ordering: .relaxed)
                                try await Task.sleep(for: .milliseconds(5))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // The BLPOP is blocked in the server and the stream is running before the kill (waited
        // for, not assumed after a fixed sleep: on a loaded machine tasks may start late).
        try await TestSupport.withDeadline(10, "the BLPOP blocked and the stream's first pipelines") {
            while true {
                let clients = try await client.send("CLIENT", "LIST").string ?? ""
                if clients.contains("cmd=blpop"), stream.ok.load(ordering: .relaxed) >= 4 { return }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        server.kill()

        // The in-flight BLPOP fails with a connection error, promptly, not after its 10 s timeout.
        let killedAt = ContinuousClock.now
        let blockedResult = try await TestSupport.withDeadline(3, "in-flight BLPOP after the kill") {
            await blocked.result
        }
        #expect(ContinuousClock.now - killedAt < .seconds(2))
        switch blockedResult {
        case .success(let value):
            Issue.record("BLPOP should have failed, got \(value)")
        case .failure(let error):
            #expect((error as? RedisError)?.code == .connectionClosed)
        }

        // While the server is down, commands fail fast instead of hanging.
        try await Task.sleep(for: .milliseconds(200))
        let downStart = ContinuousClock.now
        await #expect(throws: RedisError.self) { try await client.ping() }
        #expect(ContinuousClock.now - downStart < .seconds(1))

        try await server.start()
        // Same client, no recreation: commands succeed again within a few seconds.
        let recoveredStart = ContinuousClock.now
        try await eventually(5) { try await client.ping() }
        #expect(ContinuousClock.now - recoveredStart < .seconds(5))
        #expect(stream.failed.load(ordering: .relaxed) > 0)
        // The same stream, without recreating anything, succeeds again after the restart.
        let okAtRecovery = stream.ok.load(ordering: .relaxed)
        try await TestSupport.withDeadline(5, "the stream's pipelines after the restart") {
            while stream.ok.load(ordering: .relaxed) < okAtRecovery + 4 { try await Task.sleep(for: .milliseconds(10)) }
        }
        stream.stop.store(true, ordering: .relaxed)
        try await TestSupport.withDeadline(5, "command stream") { try await outcomes.value }

        // Every pool connection works again and replies are in order on the fresh server.
        let fresh = "restart:fresh"
        for _ in 0..<4 {
            let replies = try await eventually(5) {
                try await client.pipeline(Array(repeating: ["INCR", RedisArgument(fresh)], count: 100))
            }
            let values = replies.compactMap(\.int)
            #expect(values.count == 100)
            #expect(zip(values, values.dropFirst()).allSatisfy { $1 == $0 + 1 })
        }
        await client.close()
        await blocking.close()
        server.stop()
    }

    @Test func pubSubDeliversAgainAfterRestart() async throws {
        let server = try await RedisServerProcess()
        let client = try client(for: server)
        let subscriber = client.makeSubscriber()
        let stream = try await subscriber.subscribe(to: ["events"])
        let received = Task { () -> [String] in
            var texts: [String] = []
            for await message in stream {
                texts.append(message.text ?? "")
                if message.text == "after" { break }
            }
            return texts
        }
        #expect(try await client.publish(channel: "events", message: "before") == 1)

        server.kill()
        try await Task.sleep(for: .milliseconds(100))
        try await server.start()

        // Publish until the resubscribed connection receives it.
        let publisher = Task {
            while !Task.isCancelled {
                _ = try? await client.publish(channel: "events", message: "after")
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let texts = try await TestSupport.withDeadline(10, "message after restart") { await received.value }
        publisher.cancel()
        #expect(texts.first == "before")
        #expect(texts.last == "after")
        await subscriber.close()
        await client.close()
        server.stop()
    }

    @Test func evalShaReloadsTheScriptAfterScriptFlush() async throws {
        let server = try await RedisServerProcess()
        let client = try client(for: server)
        let script = RedisScript(source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await client.eval(script, keys: ["script:n"], args: [5]).int == 5)
        let loaded = try await client.send("SCRIPT", "LOAD", RedisArgument(script.source))
        #expect(loaded.string == script.sha1)
        _ = try await client.send("SCRIPT", "FLUSH")
        #expect(try await client.send("SCRIPT", "EXISTS", RedisArgument(script.sha1)) == .array([.integer(0)]))
        #expect(try await client.eval(script, keys: ["script:n"], args: [2]).int == 7)
        // A script error is thrown with its code.
        let failing = RedisScript(source: "return redis.error_reply('MYERR custom')")
        await #expect {
            try await client.eval(failing)
        } throws: { error in
            (error as? RedisError)?.code == .server("MYERR")
        }
        await client.close()
        server.stop()
    }

    @Test func authAndDatabaseFromURL() async throws {
        let server = try await RedisServerProcess(arguments: ["--requirepass", "s3cret"])
        let good = RedisClient(
            configuration: try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(server.port)/3"),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        try await good.ping()
        #expect(try await good.send("CLIENT", "INFO").string?.contains("db=3") == true)
        await good.close()

        let bad = RedisClient(
            configuration: try RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)"),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        await #expect {
            try await bad.ping()
        } throws: { error in
            (error as? RedisError)?.code == .server("WRONGPASS")
        }
        await bad.close()
        server.stop()
    }
}

private final class StreamCounters: Sendable {
    let stop = Atomic<Bool>(false)
    let ok = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
}
