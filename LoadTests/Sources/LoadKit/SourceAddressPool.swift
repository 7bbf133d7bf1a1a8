/// The local source addresses the client binds its connections to: `127.0.0.2 … 127.0.0.(1+count)`.
///
/// Each (source address, destination) pair has at most ~28k ephemeral ports, so 100k connections
/// to one port need at least four source addresses; with `IP_BIND_ADDRESS_NO_PORT` the kernel picks
/// the port at `connect` time, per 4-tuple. Connection `i` of worker `w` gets address
/// `(w + i * workers) mod count`, which spreads every worker over all addresses evenly.
public struct SourceAddressPool: Sendable, Equatable {
    /// The addresses, in order.
    public let addresses: [String]

    /// `count` addresses from 127.0.0.2 on (at most 254).
    public init(count: Int) {
        precondition((1...254).contains(count), "source address count must be 1...254")
        self.addresses = (0..<count).map { "127.0.0.\(2 + $0)" }
    }

    /// The address of connection `index` of worker `worker` out of `workers`.
    public func address(connection index: Int, worker: Int, workers: Int) -> String {
        self.addresses[self.index(connection: index, worker: worker, workers: workers)]
    }

    /// The index into `addresses` of connection `index` of worker `worker` out of `workers`.
    public func index(connection index: Int, worker: Int, workers: Int) -> Int {
        (worker + index * max(workers, 1)) % self.addresses.count
    }

    /// Whether `host` is a dotted-quad IPv4 address in 127.0.0.0/8.
    public static func isLoopbackIPv4(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        for octet in octets {
            guard let value = Int(octet), (0...255).contains(value), octet.count <= 3 else { return false }
        }
        return octets[0] == "127"
    }
}
