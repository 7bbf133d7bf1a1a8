import LoadKit
import NIOCore
import NIOPosix

/// Opens client connections from the worker's loop to the target, each bound to a source address
/// in 127.0.0.0/8 with `IP_BIND_ADDRESS_NO_PORT`, so the kernel picks the port at `connect` per
/// 4-tuple and every source address has its own ~28k ports.
struct Connector: Sendable {
    /// `IP_BIND_ADDRESS_NO_PORT` from `<linux/in.h>` (not exported by Glibc's module map).
    static let ipBindAddressNoPort = NIOBSDSocket.Option(rawValue: 24)

    let loop: EventLoop
    let target: SocketAddress
    let sources: [SocketAddress]

    init(loop: EventLoop, host: String, port: Int, sourceAddresses: [String]) throws {
        self.loop = loop
        self.target = try SocketAddress(ipAddress: host, port: port)
        self.sources = try sourceAddresses.map { try SocketAddress(ipAddress: $0, port: 0) }
    }

    /// Connects from `sources[sourceIndex % count]`; `initializer` builds the pipeline on the loop.
    func connect(
        sourceIndex: Int,
        initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Channel> {
        ClientBootstrap(group: self.loop)
            .channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: Self.ipBindAddressNoPort), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(15))
            .bind(to: self.sources[sourceIndex % self.sources.count])
            .channelInitializer(initializer)
            .connect(to: self.target)
    }
}
