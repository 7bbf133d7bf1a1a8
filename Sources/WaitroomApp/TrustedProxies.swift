import NIOCore

/// The peers allowed to say who the client is (`WAITROOM_TRUSTED_PROXIES`). A request from one of
/// them is attributed to the last address of its `X-Forwarded-For` (the client as that proxy saw
/// it; earlier entries were written by the client and prove nothing), so that per-address limits
/// count clients behind a load balancer, not the balancer. Requests from other peers are
/// attributed to the peer, whatever they claim.
public struct TrustedProxies: Sendable, Equatable {
    /// Exact peer addresses (IPv4 or IPv6, as written by `SocketAddress.ipAddress`).
    public let addresses: Set<String>
    /// `*`: every peer is a proxy (only where clients cannot reach the edge but through one).
    public let trustsEveryPeer: Bool

    /// Trusts no one: the peer is the client.
    public static let none = TrustedProxies(addresses: [], trustsEveryPeer: false)

    public init(addresses: Set<String>, trustsEveryPeer: Bool) {
        self.addresses = addresses
        self.trustsEveryPeer = trustsEveryPeer
    }

    /// Reads a comma-separated list of IP addresses, or `*`.
    public init(configuration: String) throws(ConfigurationError) {
        var addresses: Set<String> = []
        var all = false
        for part in configuration.split(separator: ",") {
            let entry = String(part.filter { !$0.isWhitespace })
            if entry.isEmpty { continue }
            if entry == "*" { all = true; continue }
            guard let normalized = try? SocketAddress(ipAddress: entry, port: 0).ipAddress else {
                throw ConfigurationError(key: "WAITROOM_TRUSTED_PROXIES", message: "'\(entry)' is not an IP address (list addresses, or *)")
            }
            addresses.insert(normalized)
        }
        self.init(addresses: addresses, trustsEveryPeer: all)
    }

    /// The client's address: the peer's, or for a trusted peer the last `X-Forwarded-For` entry.
    public func clientAddress(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "unknown" }
        guard trustsEveryPeer || addresses.contains(peer) else { return peer }
        let last = forwardedFor.last { !$0.allSatisfy { $0 == "," || $0.isWhitespace } }
        guard let entry = last?.split(separator: ",").last?.filter({ !$0.isWhitespace }), !entry.isEmpty else { return peer }
        return String(entry)
    }

    /// The configuration string that reads back to this value.
    public var configurationString: String {
        ((trustsEveryPeer ? ["*"] : []) + addresses.sorted()).joined(separator: ",")
    }
}
