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

        // A command that is surely in flight when the server dies.
        let blocked = Task { try await client.send("BLPOP", "restart:never", 30) }
        // And a stream of commands from several tasks.
        let stop = StopFlag()
        let outcomes = Task {
            try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var ok = 0
                        var failed = 0
                        while !stop.value.load(ordering: .relaxed) {
                            do {
                                _ = try await client.pipeline(Array(repeating: ["INCR", RedisArgument(key)], count: 50))
                                ok += 1
                            } catch is RedisError {
                                failed += 1
                                try await Task.sleep(for: .milliseconds(5))
                            }
                        }
                        return (ok, failed)
                    }
                }
                return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
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
        stop.value.store(true, ordering: .relaxed)
        let (ok, failed) = try await TestSupport.withDeadline(5, "command stream") { try await outcomes.value }
        #expect(ok > 0)
        #expect(failed > 0)

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

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
