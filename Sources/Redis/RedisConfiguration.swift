import NIOCore

/// Where and how ``RedisClient`` connects.
public struct RedisConfiguration: Sendable, Hashable {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// User name for `AUTH user pass` (Redis 6 ACL); `nil` for `AUTH pass`.
    public var username: String?
    /// Password; when set, `AUTH` is sent on every connect.
    public var password: String?
    /// Database index; when not 0, `SELECT` is sent on every connect.
    public var database: Int
    /// Connections in the pool (pub/sub uses its own). Default 4.
    public var poolSize: Int
    /// Time allowed for TCP connect plus AUTH/SELECT. Default 2 s.
    public var connectTimeout: TimeAmount
    /// Default time allowed for one command (or one pipeline) to be answered. Default 5 s.
    public var commandTimeout: TimeAmount
    /// First reconnect delay; doubled per failed attempt, with jitter. Default 50 ms.
    public var reconnectBackoffMin: TimeAmount
    /// Cap of the reconnect delay. Default 2 s.
    public var reconnectBackoffMax: TimeAmount
    /// Redis Cluster mode when not empty: the seed nodes the slot map is first asked for
    /// (`CLUSTER SLOTS`); ``host`` and ``port`` are the first of them. Empty: one server.
    public var clusterNodes: [RedisEndpoint]
    /// Cluster mode: `MOVED`/`ASK` redirects one command follows before its error is returned. Default 5.
    public var clusterMaxRedirects: Int
    /// Cluster mode: retries of a command answered `TRYAGAIN`/`CLUSTERDOWN` (with backoff from
    /// ``clusterRetryBackoffMin`` to ``clusterRetryBackoffMax``). Default 5.
    public var clusterMaxRetries: Int
    /// Cluster mode: first delay before such a retry, doubled per retry, with jitter. Default 25 ms.
    public var clusterRetryBackoffMin: TimeAmount
    /// Cluster mode: cap of that delay. Default 1 s.
    public var clusterRetryBackoffMax: TimeAmount
    /// Cluster mode: least time between two reloads of the slot map (after `MOVED`, an unserved
    /// slot or a node that cannot be reached). Default 250 ms.
    public var clusterRefreshInterval: TimeAmount

    /// A configuration from parts.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        poolSize: Int = 4,
        connectTimeout: TimeAmount = .seconds(2),
        commandTimeout: TimeAmount = .seconds(5),
        reconnectBackoffMin: TimeAmount = .milliseconds(50),
        reconnectBackoffMax: TimeAmount = .seconds(2),
        clusterNodes: [RedisEndpoint] = [],
        clusterMaxRedirects: Int = 5,
        clusterMaxRetries: Int = 5,
        clusterRetryBackoffMin: TimeAmount = .milliseconds(25),
        clusterRetryBackoffMax: TimeAmount = .seconds(1),
        clusterRefreshInterval: TimeAmount = .milliseconds(250)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.poolSize = max(1, poolSize)
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectBackoffMin = reconnectBackoffMin
        self.reconnectBackoffMax = reconnectBackoffMax
        self.clusterNodes = clusterNodes
        self.clusterMaxRedirects = max(0, clusterMaxRedirects)
        self.clusterMaxRetries = max(0, clusterMaxRetries)
        self.clusterRetryBackoffMin = clusterRetryBackoffMin
        self.clusterRetryBackoffMax = clusterRetryBackoffMax
        self.clusterRefreshInterval = clusterRefreshInterval
        if let first = clusterNodes.first {
            self.host = first.host
            self.port = first.port
        }
    }

    /// `true` in Redis Cluster mode (``clusterNodes`` not empty).
    public var isCluster: Bool { !clusterNodes.isEmpty }

    /// ``host`` and ``port``.
    public var endpoint: RedisEndpoint { RedisEndpoint(host: host, port: port) }

    /// The settings of a connection to one node of the cluster: its address, database 0.
    func node(_ endpoint: RedisEndpoint) -> RedisConfiguration {
        var node = self
        node.host = endpoint.host
        node.port = endpoint.port
        node.database = 0
        node.clusterNodes = []
        return node
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`, or
    /// `redis-cluster://[[user]:password@]host[:port][,host[:port]…]` for a Redis Cluster (the
    /// hosts are seed nodes; a cluster has only database 0). Other fields keep their defaults.
    ///
    /// Throws ``RedisError`` with code ``RedisError/Code/invalidURL`` for anything else.
    public init(url: String) throws {
        func invalid(_ why: String) -> RedisError {
            RedisError(code: .invalidURL, message: "invalid Redis URL '\(url)': \(why)")
        }
        let cluster: Bool
        var rest: Substring
        if url.hasPrefix("redis://") {
            cluster = false
            rest = Substring(url.dropFirst("redis://".count))
        } else if url.hasPrefix("redis-cluster://") {
            cluster = true
            rest = Substring(url.dropFirst("redis-cluster://".count))
        } else {
            throw invalid("scheme must be redis:// or redis-cluster://")
        }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            rest = rest[..<query]
        }

        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw invalid("database must be a non-negative integer") }
                guard !cluster || db == 0 else { throw invalid("a Redis Cluster has only database 0") }
                database = db
            }
        }

        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = String(userInfo[..<colon])
                username = user.isEmpty ? nil : Self.percentDecoded(user)
                password = Self.percentDecoded(String(userInfo[userInfo.index(after: colon)...]))
            } else if !userInfo.isEmpty {
                // redis://secret@host is the password-only form some tools write.
                password = Self.percentDecoded(String(userInfo))
            }
        }

        let hosts = cluster ? rest.split(separator: ",", omittingEmptySubsequences: false) : [rest]
        let endpoints = try hosts.map { part -> RedisEndpoint in
            do { return try Self.endpoint(part) } catch let why as URLProblem { throw invalid(why.text) }
        }
        self.init(host: endpoints[0].host, port: endpoints[0].port, username: username, password: password,
                  database: database, clusterNodes: cluster ? endpoints : [])
    }

    private struct URLProblem: Error {
        var text: String
    }

    /// `host[:port]` or `[v6]:port` of a URL; the port defaults to 6379.
    private static func endpoint(_ text: Substring) throws -> RedisEndpoint {
        var host: Substring
        var port = 6379
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw URLProblem(text: "unterminated IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw URLProblem(text: "bad port") }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            guard let p = Int(text[text.index(after: colon)...]) else { throw URLProblem(text: "bad port") }
            port = p
        } else {
            host = text
        }
        guard !host.isEmpty else { throw URLProblem(text: "missing host") }
        guard (1...65535).contains(port) else { throw URLProblem(text: "port out of range") }
        return RedisEndpoint(host: String(host), port: port)
    }

    private static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 <= input.count - 1,
               let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
