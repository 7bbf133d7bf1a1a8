/// How to reach PostgreSQL and how to size the pool.
///
/// The password is never part of `description` and is handed to libpq as a separate
/// keyword/value pair, never spliced into a connection string.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// Host name, IP address, or (starting with `/`) a Unix-socket directory.
    public var host: String
    /// TCP port.
    public var port: Int
    /// Role to connect as.
    public var user: String
    /// Password, if the server asks for one. Never logged.
    public var password: String?
    /// Database name.
    public var database: String
    /// libpq `sslmode` (`disable`, `prefer`, `require`, ...); `nil` leaves libpq's default.
    public var sslMode: String?
    /// `application_name` reported in `pg_stat_activity`.
    public var applicationName: String
    /// Maximum number of pooled connections (each owns one OS thread).
    public var poolSize: Int
    /// How long `acquire` waits for a free connection before throwing `.poolTimeout`.
    public var acquireTimeout: Duration
    /// How long establishing a connection may take (libpq rounds to whole seconds, minimum 2).
    public var connectTimeout: Duration
    /// Session `statement_timeout`; `nil` keeps the server default.
    public var statementTimeout: Duration?
    /// Session `lock_timeout`; `nil` keeps the server default.
    public var lockTimeout: Duration?
    /// Session `search_path`; `nil` keeps the server default. Each entry must match `[A-Za-z0-9_$]+`.
    public var searchPath: [String]?
    /// Value of the `pool` dimension on this client's metrics.
    public var metricsPoolName: String

    /// Creates a configuration from its parts.
    public init(
        host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil,
        database: String, sslMode: String? = nil, applicationName: String = "waitroom",
        poolSize: Int = 8, acquireTimeout: Duration = .seconds(5), connectTimeout: Duration = .seconds(5),
        statementTimeout: Duration? = .seconds(30), lockTimeout: Duration? = nil,
        searchPath: [String]? = nil, metricsPoolName: String = "default"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.poolSize = poolSize
        self.acquireTimeout = acquireTimeout
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.searchPath = searchPath
        self.metricsPoolName = metricsPoolName
    }

    /// Parses `postgres://user:password@host:port/database?option=value&...`
    /// (`postgresql://` also accepted). User, password and database are percent-decoded.
    ///
    /// Recognised query options: `sslmode`, `application_name`, `host` (e.g. a socket directory),
    /// `pool_size`, `acquire_timeout_ms`, `connect_timeout` (seconds), `statement_timeout_ms`,
    /// `lock_timeout_ms`. Unknown options are rejected so typos do not pass silently.
    public init(url: String) throws {
        func fail(_ why: String) -> PostgresError {
            PostgresError(code: .invalidURL, message: "invalid PostgreSQL URL: \(why)")
        }
        var rest = Substring(url)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw fail("scheme must be postgres:// or postgresql://")
        }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let rawUser: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                rawUser = userInfo[..<colon]
                guard let p = Self.percentDecode(userInfo[userInfo.index(after: colon)...]) else {
                    throw fail("bad percent-encoding in password")
                }
                password = p
            } else {
                rawUser = userInfo
            }
            guard let u = Self.percentDecode(rawUser) else { throw fail("bad percent-encoding in user") }
            user = u
        }
        var host = "127.0.0.1"
        var port = 5432
        var hostPart = rest
        var portPart: Substring?
        if hostPart.hasPrefix("[") {  // IPv6 literal
            guard let close = hostPart.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty { throw fail("junk after IPv6 address") }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        if !hostPart.isEmpty { host = String(hostPart) }
        if let portPart {
            guard let p = Int(portPart), (1...65535).contains(p) else { throw fail("bad port '\(portPart)'") }
            port = p
        }
        guard let database = Self.percentDecode(path) else { throw fail("bad percent-encoding in database") }
        guard let user, !user.isEmpty else { throw fail("missing user") }

        self.init(host: host, port: port, user: user, password: password,
                  database: database.isEmpty ? user : database)

        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0])
            guard let value = kv.count == 2 ? Self.percentDecode(kv[1]) : "" else {
                throw fail("bad percent-encoding in option \(key)")
            }
            func int() throws -> Int {
                guard let n = Int(value), n >= 0 else { throw fail("option \(key) needs a non-negative integer") }
                return n
            }
            switch key {
            case "sslmode": sslMode = value
            case "application_name": applicationName = value
            case "host": self.host = value
            case "pool_size":
                let n = try int()
                guard n > 0 else { throw fail("pool_size must be at least 1") }
                poolSize = n
            case "acquire_timeout_ms": acquireTimeout = .milliseconds(try int())
            case "connect_timeout": connectTimeout = .seconds(try int())
            case "statement_timeout_ms": statementTimeout = .milliseconds(try int())
            case "lock_timeout_ms": lockTimeout = .milliseconds(try int())
            default: throw fail("unknown option '\(key)'")
            }
        }
    }

    /// Everything but the password.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database) pool=\(poolSize)"
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`.
    var libpqParameters: [(String, String)] {
        var params: [(String, String)] = [
            ("host", host),
            ("port", String(port)),
            ("user", user),
            ("dbname", database),
            ("application_name", applicationName),
            ("client_encoding", "UTF8"),
            ("connect_timeout", String(max(2, Int(connectTimeout.components.seconds)
                + (connectTimeout.components.attoseconds > 0 ? 1 : 0)))),
            ("keepalives", "1"),
            ("keepalives_idle", "30"),
        ]
        if let password { params.append(("password", password)) }
        if let sslMode { params.append(("sslmode", sslMode)) }
        // Session settings. Values below contain no spaces or backslashes (checked), so no
        // escaping is needed inside `options`.
        var options = ["-c DateStyle=ISO", "-c TimeZone=UTC", "-c IntervalStyle=iso_8601"]
        if let statementTimeout { options.append("-c statement_timeout=\(Self.milliseconds(statementTimeout))") }
        if let lockTimeout { options.append("-c lock_timeout=\(Self.milliseconds(lockTimeout))") }
        if let searchPath, !searchPath.isEmpty {
            let safe = searchPath.filter { name in
                !name.isEmpty && name.utf8.allSatisfy { c in
                    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x24
                }
            }
            if !safe.isEmpty { options.append("-c search_path=\(safe.joined(separator: ","))") }
        }
        params.append(("options", options.joined(separator: " ")))
        return params
    }

    static func milliseconds(_ d: Duration) -> Int64 { d.wholeMilliseconds }

    /// Percent-decodes UTF-8; `nil` on malformed escapes or invalid UTF-8.
    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        while let c = it.next() {
            if c == 0x25 {
                guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
