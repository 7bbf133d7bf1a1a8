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
        reconnectBackoffMax: TimeAmount = .seconds(2)
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
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`; the other fields keep their defaults.
    ///
    /// Throws ``RedisError`` with code ``RedisError/Code/invalidURL`` for anything else.
    public init(url: String) throws {
        func invalid(_ why: String) -> RedisError {
            RedisError(code: .invalidURL, message: "invalid Redis URL '\(url)': \(why)")
        }
        guard url.hasPrefix("redis://") else { throw invalid("scheme must be redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            rest = rest[..<query]
        }

        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else { throw invalid("database must be a non-negative integer") }
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

        var host: Substring
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw invalid("bad port") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else { throw invalid("bad port") }
            port = p
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("missing host") }
        guard (1...65535).contains(port) else { throw invalid("port out of range") }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
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
