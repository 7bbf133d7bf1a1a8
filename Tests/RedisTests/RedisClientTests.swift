import Foundation
import NIOCore
import NIOPosix
import Redis
import Testing

/// Against the shared Redis (`WAITROOM_REDIS_URL`), with unique key prefixes.
@Suite struct RedisClientTests {
    @Test func tenThousandPipelinedCommandsComeBackInOrder() async throws {
        let client = try await TestSupport.sharedClient()
        let prefix = TestSupport.uniquePrefix()
        var commands: [[RedisArgument]] = []
        for i in 0..<10_000 {
            if i % 2 == 0 {
                commands.append(["INCR", RedisArgument(prefix + "counter")])
            } else {
                commands.append(["ECHO", RedisArgument("echo-\(i)")])
            }
        }
        let replies = try await client.pipeline(commands)
        #expect(replies.count == 10_000)
        var mismatches = 0
        for (i, reply) in replies.enumerated() {
            let expected: RedisValue = i % 2 == 0
                ? .integer(Int64(i / 2 + 1))
                : .bulkString(ByteBuffer(string: "echo-\(i)"))
            if reply != expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(try await client.send("GET", RedisArgument(prefix + "counter")).int == 5_000)
        _ = try await client.send("DEL", RedisArgument(prefix + "counter"))
        await client.close()
    }

    @Test func manyConcurrentSendersGetTheirOwnReplies() async throws {
        let client = try await TestSupport.sharedClient { $0.poolSize = 3 }
        let prefix = TestSupport.uniquePrefix()
        let tasks = 50
        let perTask = 200
        let wrong = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<tasks {
                group.addTask {
                    var wrong = 0
                    for i in 0..<perTask {
                        let text = "t\(t)-\(i)"
                        if try await client.send("ECHO", RedisArgument(text)).string != text { wrong += 1 }
                        _ = try await client.send("INCR", RedisArgument(prefix + "n"))
                    }
                    return wrong
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wrong == 0)
        #expect(try await client.send("GET", RedisArgument(prefix + "n")).int == tasks * perTask)
        _ = try await client.send("DEL", RedisArgument(prefix + "n"))
        await client.close()
    }

    @Test func replyTypesThroughTheClient() async throws {
        let client = try await TestSupport.sharedClient()
        let key = TestSupport.uniquePrefix() + "list"
        #expect(try await client.send("RPUSH", RedisArgument(key), "a", RedisArgument(bytes: [0, 255]), 3).int == 3)
        let range = try await client.send("LRANGE", RedisArgument(key), 0, -1)
        #expect(range.array?.count == 3)
        #expect(range.array?[1].bytes == [0, 255])
        #expect(try await client.send("GET", RedisArgument(key + ":missing")).isNull)
        #expect(try await client.send("SET", RedisArgument(key + ":s"), "v") == .simpleString("OK"))
        _ = try await client.send("DEL", RedisArgument(key), RedisArgument(key + ":s"))
        await client.close()
    }

    @Test func serverErrorSurfacesWithItsCode() async throws {
        let client = try await TestSupport.sharedClient()
        let key = TestSupport.uniquePrefix() + "str"
        _ = try await client.send("SET", RedisArgument(key), "text")
        do {
            _ = try await client.send("LPUSH", RedisArgument(key), "x")
            Issue.record("LPUSH on a string should fail")
        } catch let error as RedisError {
            #expect(error.code == .server("WRONGTYPE"))
            #expect(error.code.isServer)
            #expect(error.message.hasPrefix("WRONGTYPE"))
        }
        // Inside a pipeline the error is a value and the other replies still arrive.
        let replies = try await client.pipeline([["LPUSH", RedisArgument(key), "x"], ["GET", RedisArgument(key)]])
        #expect(replies[0].serverError?.code == .server("WRONGTYPE"))
        #expect(replies[1].string == "text")
        // The connection is still fine afterwards.
        try await client.ping()
        _ = try await client.send("DEL", RedisArgument(key))
        await client.close()
    }

    @Test func commandTimeoutFailsAndTheNextCommandGetsItsOwnReply() async throws {
        let client = try await TestSupport.sharedClient {
            $0.poolSize = 1
            $0.commandTimeout = .milliseconds(200)
        }
        let key = TestSupport.uniquePrefix() + "empty"
        let start = ContinuousClock.now
        do {
            _ = try await client.send("BLPOP", RedisArgument(key), 2)
            Issue.record("BLPOP should have timed out")
        } catch let error as RedisError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - start < .milliseconds(1_500))
        // Sent right away on the same connection: it queues behind BLPOP's late nil reply, which
        // must be dropped, not handed to it.
        let echo = try await client.send(["ECHO", "after-timeout"], timeout: .seconds(5))
        #expect(echo.string == "after-timeout")
        try await client.ping()
        await client.close()
    }

    @Test func closedClientRefusesCommands() async throws {
        let client = try await TestSupport.sharedClient()
        await client.close()
        await #expect {
            try await client.ping()
        } throws: { error in
            (error as? RedisError)?.code == .clientClosed
        }
    }

    @Test func unreachableServerFailsFastWithUnavailable() async throws {
        let server = try await RedisServerProcess()
        server.stop()
        var configuration = try RedisConfiguration(url: server.url)
        configuration.connectTimeout = .milliseconds(500)
        let client = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        for _ in 0..<3 {
            let start = ContinuousClock.now
            await #expect {
                try await client.ping()
            } throws: { error in
                (error as? RedisError)?.code == .unavailable
            }
            #expect(ContinuousClock.now - start < .seconds(1))
        }
        await client.close()
    }

    @Test func publishAndSubscribe() async throws {
        let client = try await TestSupport.sharedClient()
        let subscriber = client.makeSubscriber()
        let prefix = TestSupport.uniquePrefix()
        let channel = prefix + "news"
        let stream = try await subscriber.subscribe(to: [channel])
        let patternStream = try await subscriber.subscribe(toPatterns: [prefix + "n*"])
        #expect(try await client.publish(channel: channel, message: "hello") == 2)
        let first = try await TestSupport.withDeadline(5, "message") { () -> RedisMessage? in
            for await message in stream { return message }
            return nil
        }
        #expect(first == RedisMessage(channel: channel, payload: .bulkString(ByteBuffer(string: "hello"))))
        let viaPattern = try await TestSupport.withDeadline(5, "pmessage") { () -> RedisMessage? in
            for await message in patternStream { return message }
            return nil
        }
        #expect(viaPattern?.pattern == prefix + "n*")
        #expect(viaPattern?.text == "hello")
        await subscriber.close()
        await client.close()
    }

    @Test func databaseSelectionFromURL() async throws {
        let client = try await TestSupport.sharedClient()
        await client.close()
        var configuration = try RedisConfiguration(url: TestSupport.sharedURL)
        configuration.database = 2
        let db2 = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestSupport.logger)
        let key = TestSupport.uniquePrefix() + "db"
        _ = try await db2.send("SET", RedisArgument(key), "in-db-2")
        let info = try await db2.send("CLIENT", "INFO").string ?? ""
        #expect(info.contains("db=2"))
        _ = try await db2.send("DEL", RedisArgument(key))
        await db2.close()
    }
}
