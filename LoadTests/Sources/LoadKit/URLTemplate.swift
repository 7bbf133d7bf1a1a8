/// An `http://host:port/path` URL with `{placeholders}` in its path, e.g.
/// `http://127.0.0.1:8080/v1/events/{event}/queue/{ticket}/stream` or `http://127.0.0.1:8090/sub/{channel}`.
///
/// Only plain `http` with a literal IPv4 host in 127.0.0.0/8 is accepted: load goes to loopback only.
public struct URLTemplate: Sendable, Equatable {
    /// The host, a dotted IPv4 loopback address.
    public var host: String
    /// The port.
    public var port: Int
    /// The path and query with placeholders.
    public var pathTemplate: String

    /// Why a URL was refused.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Parses `string`.
    public init(_ string: String) throws {
        guard string.hasPrefix("http://") else { throw ParseError(description: "only http:// URLs: \(string)") }
        let rest = string.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        self.pathTemplate = slash == rest.endIndex ? "/" : String(rest[slash...])
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let host = parts.first, !host.isEmpty else {
            throw ParseError(description: "bad host in \(string)")
        }
        self.host = String(host)
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port) else { throw ParseError(description: "bad port in \(string)") }
            self.port = port
        } else {
            self.port = 80
        }
        guard SourceAddressPool.isLoopbackIPv4(self.host) else {
            throw ParseError(description: "target must be a literal address in 127.0.0.0/8, not \(self.host)")
        }
    }

    /// The path with every `{name}` replaced by `values[name]` (unknown placeholders stay as they are).
    public func path(_ values: [String: String]) -> String {
        var result = ""
        var rest = self.pathTemplate[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            result += values[name] ?? "{\(name)}"
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        return result
    }

    /// The `Host` header value.
    public var hostHeader: String { self.port == 80 ? self.host : "\(self.host):\(self.port)" }
}
