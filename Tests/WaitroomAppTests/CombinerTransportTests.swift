import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import WaitroomApp

/// The workers' combiner sockets over real Unix sockets: answers find their requests, whatever
/// order they come back in; an absent or silent worker fails the send instead of hanging it.
@Suite("Combiner transport") struct CombinerTransportTests {
    /// A fresh socket directory and event loops for `body`, both gone afterwards.
    private static func withSetup(threads: Int = 1, _ body: (String, any EventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("wr-comb-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        do {
            try await body(directory, group)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            try? await group.shutdownGracefully()
            throw error
        }
        try? FileManager.default.removeItem(atPath: directory)
        try await group.shutdownGracefully()
    }

    @Test func concurrentRequestsGetTheirOwnAnswers() async throws {
        try await Self.withSetup(threads: 2) { directory, group in
            let server = CombinerTransport(directory: directory, group: group, timeout: .seconds(5))
            let listener = try await server.listen(index: 0) { request in
                // Answers finish out of order.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                return "answer to " + request
            }
            let client = CombinerTransport(directory: directory, group: group, timeout: .seconds(5))
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { tasks in
                for n in 0..<300 {
                    tasks.addTask { (n, try await client.send(to: 0, "{\"n\":\(n),\"text\":\"ü\(String(repeating: "x", count: n))\"}")) }
                }
                var all: [Int: String] = [:]
                for try await (n, answer) in tasks { all[n] = answer }
                return all
            }
            #expect(answers.count == 300)
            for n in 0..<300 {
                #expect(answers[n] == "answer to {\"n\":\(n),\"text\":\"ü\(String(repeating: "x", count: n))\"}")
            }
            client.close()
            try await listener.close()
        }
    }

    @Test func anAbsentWorkerFailsTheSendAtOnce() async throws {
        try await Self.withSetup { directory, group in
            let client = CombinerTransport(directory: directory, group: group, timeout: .seconds(5))
            let started = ContinuousClock.now
            await #expect(throws: (any Error).self) { try await client.send(to: 3, "{}") }
            #expect(ContinuousClock.now - started < .seconds(2))
            // Once the worker listens, the next send opens a new connection and succeeds.
            let server = CombinerTransport(directory: directory, group: group, timeout: .seconds(5))
            let listener = try await server.listen(index: 3) { _ in "up" }
            #expect(try await client.send(to: 3, "{}") == "up")
            client.close()
            try await listener.close()
        }
    }

    @Test func aSilentWorkerFailsTheSendAfterTheTimeout() async throws {
        try await Self.withSetup { directory, group in
            let server = CombinerTransport(directory: directory, group: group, timeout: .seconds(5))
            let listener = try await server.listen(index: 0) { request in
                if request == "slow" { try? await Task.sleep(for: .seconds(3)) }
                return "done"
            }
            let client = CombinerTransport(directory: directory, group: group, timeout: .milliseconds(300))
            let started = ContinuousClock.now
            await #expect(throws: CombinerTransport.Unreachable.self) { try await client.send(to: 0, "slow") }
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(300) && waited < .seconds(2), "\(waited)")
            // The connection still serves the next request.
            #expect(try await client.send(to: 0, "fast") == "done")
            client.close()
            try await listener.close()
        }
    }
}
