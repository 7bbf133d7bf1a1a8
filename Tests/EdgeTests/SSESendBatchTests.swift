@testable import Edge
import Foundation
import NIOCore
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Batched direct writes (``SSESendBatch``): the ring against real sockets, and the hub's walks
/// through it. Where the kernel refuses io_uring, the ring's own tests are skipped and the hub
/// falls back to one `send` per frame (checked below with batching off).
@Suite("SSE send batches")
struct SSESendBatchTests {
    static let available = SSESendBatch<Int>.make(capacity: 4).batch != nil

    /// A connected pair of stream sockets; the first end's send buffer as small as the kernel allows.
    static func socketPair(smallSendBuffer: Bool = false) throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        #if canImport(Glibc)
        let kind = Int32(SOCK_STREAM.rawValue)
        #else
        let kind = SOCK_STREAM
        #endif
        try #require(socketpair(AF_UNIX, kind, 0, &fds) == 0)
        if smallSendBuffer {
            var size: Int32 = 4096
            _ = setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        return (fds[0], fds[1])
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { return bytes }
            bytes += buffer[0..<count]
        }
    }

    @Test(.enabled(if: SSESendBatchTests.available))
    func framesGoOutInOrderWithOneSubmissionAndEachOutcomeIsReported() throws {
        let (batch, _) = SSESendBatch<Int32>.make(capacity: 8, arenaBytes: 200_000)
        let ring = try #require(batch)
        let (a, b) = try Self.socketPair()
        let (small, smallPeer) = try Self.socketPair(smallSendBuffer: true)
        defer { for fd in [a, b, small, smallPeer] { close(fd) } }
        func append(_ bytes: [UInt8], to fd: Int32) -> Bool {
            bytes.withUnsafeBytes { ring.append($0, descriptor: fd, owner: fd) }
        }
        let big = [UInt8](repeating: 0x78, count: 150_000)
        #expect(append(Array("first ".utf8), to: a))
        #expect(append(Array("second".utf8), to: a))
        #expect(append(big, to: small))          // more than the small socket's buffer: short
        #expect(append(Array("later".utf8), to: small))   // its buffer is full by then
        #expect(append(Array("x".utf8), to: 1_000_000))   // no such descriptor
        var outcomes: [SSESendOutcome] = []
        var seen: [[UInt8]] = []
        var owners: [Int32] = []
        ring.submit { entry, outcome, bytes in
            owners.append(entry.owner)
            outcomes.append(outcome)
            seen.append(Array(bytes))
        }
        #expect(ring.submissions == 1)
        #expect(ring.framesSubmitted == 5)
        #expect(outcomes.count == 5)
        #expect(owners == [a, a, small, small, 1_000_000])
        #expect(Array(outcomes.prefix(2)) == [.sent, .sent])
        guard case .short(let taken) = outcomes[2] else {
            Issue.record("a frame larger than the socket buffer was \(outcomes[2])")
            return
        }
        #expect(taken > 0 && taken < big.count)
        #expect(outcomes[3] == .short(0))
        #expect(outcomes[4] == .failed)
        // The handler saw each frame's own bytes, and the receiver got the sent ones in order.
        #expect(seen[0] == Array("first ".utf8) && seen[3] == Array("later".utf8))
        #expect(Self.readAll(b) == Array("first second".utf8))
        #expect(Self.readAll(smallPeer).count == taken)
        // The arena is free again: the batch takes frames after a submission.
        #expect(append(Array("again".utf8), to: a))
        ring.submit { _, outcome, _ in #expect(outcome == .sent) }
        #expect(Self.readAll(b) == Array("again".utf8))
    }

    @Test(.enabled(if: SSESendBatchTests.available))
    func aFullBatchOrArenaRefusesMoreFrames() throws {
        let (batch, _) = SSESendBatch<Int>.make(capacity: 2, arenaBytes: 64)
        let ring = try #require(batch)
        let (a, b) = try Self.socketPair()
        defer { close(a); close(b) }
        func append(_ count: Int) -> Bool {
            [UInt8](repeating: 0x61, count: count).withUnsafeBytes { ring.append($0, descriptor: a, owner: count) }
        }
        #expect(!append(65))          // larger than the arena: never fits
        #expect(ring.hasRoom(for: 64) && !ring.hasRoom(for: 65))
        #expect(append(40))
        #expect(!ring.hasRoom(for: 30))
        #expect(!append(30))          // the arena has 24 bytes left
        #expect(append(20))
        #expect(ring.capacity == 2)
        #expect(!ring.hasRoom(for: 1))
        #expect(!append(1))           // two frames: the ring is full
        ring.submit { _, outcome, _ in #expect(outcome == .sent) }
        #expect(Self.readAll(b).count == 60)
        #expect(ring.isEmpty)
    }

    @Test func outcomesOfKernelResults() {
        #expect(SSESendOutcome(result: 10, length: 10, ringFailed: false) == .sent)
        #expect(SSESendOutcome(result: 4, length: 10, ringFailed: false) == .short(4))
        #expect(SSESendOutcome(result: -EAGAIN, length: 10, ringFailed: false) == .short(0))
        #expect(SSESendOutcome(result: -ENOBUFS, length: 10, ringFailed: false) == .short(0))
        #expect(SSESendOutcome(result: -EPIPE, length: 10, ringFailed: false) == .failed)
        #expect(SSESendOutcome(result: -ECONNRESET, length: 10, ringFailed: false) == .failed)
        #expect(SSESendOutcome(result: -ECANCELED, length: 10, ringFailed: false) == .notSubmitted)
        // After a failed submission a send's fate is unknown: the connection is closed.
        #expect(SSESendOutcome(result: -ECANCELED, length: 10, ringFailed: true) == .failed)
    }

    /// A tick to many streams on loops with batching on and off: every stream gets exactly its
    /// new value, and with batching on the frames went through batches (several per walk, as
    /// the walk's slices are small).
    @Test(arguments: [true, false])
    func aTickReachesEveryStreamOnceWithBatchedSendsOnAndOff(batched: Bool) async throws {
        var configuration = SSEHubConfiguration()
        configuration.walkSlice = 4
        configuration.minimumInterval = .milliseconds(100)
        configuration.batchedSends = batched
        try await SSEHubTests.with(hubConfiguration: configuration) { hub, positions, _, port, _ in
            let count = 24
            var connections: [TestConnection] = []
            for key in 1...count {
                positions.set(key, position: 100 + key)
                let connection = try await SSEHubTests.open(port, key: key)
                try await SSEHubTests.wait(connection) { $0.events.count == 1 }
                connections.append(connection)
            }
            let before = await hub.stats()
            #expect(before.batchedLoops > 0 || !batched || !Self.available)
            if !batched { #expect(before.batchedLoops == 0) }
            try await Task.sleep(for: .milliseconds(150))
            for key in 1...count { positions.set(key, position: key) }
            hub.update(eventID: "e", resolve: positions.resolver)
            for (index, connection) in connections.enumerated() {
                let received = try await SSEHubTests.wait(connection) { $0.events.count == 2 }
                #expect(received.events.last?.data == "{\"position\":\(index + 1),\"etaSeconds\":\(index + 1)}")
                #expect(received.events.map(\.id) == ["1", "2"])
            }
            try await Task.sleep(for: .milliseconds(100))
            let after = await hub.stats()
            if batched && Self.available {
                #expect(after.batchedFrames - before.batchedFrames == count)
                #expect(after.sendBatches - before.sendBatches >= count / configuration.walkSlice)
            } else {
                #expect(after.batchedFrames == 0 && after.sendBatches == 0)
            }
            for connection in connections {
                #expect(SSEHubTests.received(connection).events.count == 2)
            }
            // A broadcast is not sliced: with batches of 4 frames (the slice), the batch fills
            // and goes out several times within it, and every stream still gets its frame once,
            // in order, then the final one and the end of its body.
            let beforeBroadcast = await hub.stats()
            hub.broadcast(eventID: "e", .latest(SSEEvent(name: "paused", data: "{}")))
            hub.broadcast(eventID: "e", .final(SSEEvent(name: "sold_out", data: "{}")))
            for connection in connections {
                let received = try await SSEHubTests.wait(connection) { $0.ended }
                #expect(received.events.map(\.event) == ["position", "position", "paused", "sold_out"])
                #expect(received.events.map(\.id) == ["1", "2", "3", "4"])
                await connection.close()
            }
            let afterBroadcast = await hub.stats()
            if batched && Self.available {
                #expect(afterBroadcast.batchedFrames - beforeBroadcast.batchedFrames == 2 * count)
                #expect(afterBroadcast.sendBatches - beforeBroadcast.sendBatches >= 2 * count / configuration.walkSlice)
            }
        }
    }
}
