/// The address of one Redis server: host and TCP port.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// An endpoint from parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 address.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `host:port` as Redis writes it in `MOVED`/`ASK` errors (the port after the last
    /// colon, so a bare IPv6 address works; brackets are removed). An empty host is `fallbackHost`,
    /// the host of the node that answered (Redis leaves it empty when the node does not know its
    /// own address).
    init?(redisAddress text: Substring, fallbackHost: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        self.init(host: host.isEmpty || host == "?" ? fallbackHost : String(host), port: port)
    }
}
