@testable import Edge
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

/// ``ReceiveBufferRelease``: a stream's connection gives back the buffer NIO keeps for its next
/// read, and reads on as before.
@Suite("Receive buffer release")
struct ReceiveBufferReleaseTests {
    /// Collects what a server connection reads.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<String>("")
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            received.withLock { $0 += String(buffer: buffer) }
        }
    }

    @Test func theKeptBufferIsReleasedAndTheNextReadStillArrives() async throws {
        let accepted = Mutex<(any Channel)?>(nil)
        let collector = Collector()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.withLock { $0 = channel }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        try await client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n")).get()
        try await TestSupportWait.until { collector.received.withLock { $0.utf8.count } == 18 }
        let channel = try #require(accepted.withLock { $0 })

        // After a read NIO keeps that read's buffer; the release empties the pool.
        #expect(try await channel.eventLoop.submit { ReceiveBufferRelease.pooledBuffers(of: channel) }.get() == 1)
        #expect(try await channel.eventLoop.submit { ReceiveBufferRelease.release(of: channel) }.get())
        #expect(try await channel.eventLoop.submit { ReceiveBufferRelease.pooledBuffers(of: channel) }.get() == 0)

        // The connection reads on: a new buffer is taken for the next bytes.
        try await client.writeAndFlush(ByteBuffer(string: "more")).get()
        try await TestSupportWait.until { collector.received.withLock { $0.utf8.count } == 22 }
        #expect(collector.received.withLock { $0 } == "GET / HTTP/1.1\r\n\r\nmore")
        #expect(try await channel.eventLoop.submit { ReceiveBufferRelease.pooledBuffers(of: channel) }.get() == 1)

        try await client.close()
        try await server.close()
    }

    @Test func aChannelWithoutAReceivePoolIsLeftAlone() {
        let channel = EmbeddedChannel()
        #expect(!ReceiveBufferRelease.release(of: channel))
        #expect(ReceiveBufferRelease.pooledBuffers(of: channel) == nil)
    }
}

/// Polls until `condition` holds (at most 2 s).
enum TestSupportWait {
    static func until(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<200 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition not met within 2 s")
    }
}
