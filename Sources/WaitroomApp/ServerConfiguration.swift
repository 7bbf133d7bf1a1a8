import Edge
import Inventory
import Logging
import Postgres
import Redis
import Tokens

/// Everything a server process needs to know, read from the environment (the contract's
/// "Running it" table) and overridable by command-line flags.
public struct ServerConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Edge worker processes sharing the port with `SO_REUSEPORT`.
    public var processes: Int
    /// Event-loop threads per worker process (default 1: one process per core scales better).
    public var eventLoopThreads: Int = 1
    public var redisURL: String = ServerConfiguration.localRedisURL
    public var databaseURL: String = ServerConfiguration.localDatabaseURL
    /// Bearer token of the admin API; `nil` refuses every admin call.
    public var adminToken: String?
    /// Secrets for tickets and admission tokens, newest first.
    public var signingKeys: SigningKeyring
    /// True when no key was configured and one was made up for this run.
    public var signingKeyIsEphemeral: Bool
    public var logLevel: Logger.Level = .info
    /// One JSON object per log line (`WAITROOM_LOG_FORMAT=json`) instead of text.
    public var logJSON = false
    /// Request bodies over this many bytes get 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// Graceful-shutdown drain deadline.
    public var drainSeconds: Double = 10
    /// A request head must be complete this long after the connection (or the next request) starts.
    public var headerTimeoutSeconds: Double = 10
    /// Longest pause between two reads of a request body.
    public var bodyTimeoutSeconds: Double = 30
    /// A whole request body must arrive this long after its head.
    public var bodyDeadlineSeconds: Double = 60
    /// A kept-alive connection idle this long between requests is closed.
    public var idleTimeoutSeconds: Double = 60
    /// Joins per second allowed from one client address (per worker process); 0 turns it off.
    public var joinRatePerAddress: Double = 20
    /// A waiting place with no open stream and no poll for this long loses its place.
    public var abandonAfterSeconds: Int = 60
    /// Holds: how long they last, tickets per admission, batching, lock timeout.
    public var reservations = ReservationConfiguration()
    /// The order saga and the payment simulator.
    public var paymentTimeoutSeconds: Int = 120
    public var paymentLatencyMilliseconds: Int = 200
    public var paymentDuplicateRate: Double = 0.2
    /// HMAC secret of payment webhooks; `nil`: derived from the signing key.
    public var paymentWebhookSecret: String?
    public var sagaMaxAttempts: Int = 5
    /// `simulator` (built in) or `http` (a provider at `paymentURL`, with `paymentAPIKey`).
    public var paymentProvider = "simulator"
    public var paymentURL: String?
    public var paymentAPIKey: String?
    /// Where the outbox relay posts order events (besides the log); `nil`: the log only.
    public var outboxWebhookURL: String?
    /// What this process runs: the edge, the order saga, or both.
    public var role: ServerRole = .all
    /// Where the payment simulator delivers its webhooks; `nil`: this process's own port. A `saga`
    /// process serves no API, so it points this at an edge (or the load balancer in front).
    public var paymentWebhookURL: String?
    /// Peers whose `X-Forwarded-For` names the client (load balancers in front of the edge).
    public var trustedProxies = TrustedProxies.none

    /// The local instances that `scripts/services.sh start` (and so `make run`) starts.
    public static let localRedisURL = "redis://127.0.0.1:6391"
    public static let localDatabaseURL = "postgres://waitroom@127.0.0.1:5441/waitroom"

    /// Reads the configuration from an environment (usually `ProcessInfo.processInfo.environment`).
    public init(environment env: [String: String], cores: Int) throws(ConfigurationError) {
        func nonEmpty(_ key: String) -> String? {
            guard let v = env[key]?.trimmingWhitespace(), !v.isEmpty else { return nil }
            return v
        }
        func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let raw = nonEmpty(key) else { return nil }
            guard let v = Int(raw), range.contains(v) else {
                throw ConfigurationError(key: key, message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
            }
            return v
        }

        processes = max(1, cores)
        if let v = nonEmpty("WAITROOM_HOST") { host = v }
        if let v = try integer("WAITROOM_PORT", in: 0...65535) { port = v }
        if let v = try integer("WAITROOM_PROCESSES", in: 1...256) { processes = v }
        if let v = try integer("WAITROOM_EVENT_LOOPS", in: 1...256) { eventLoopThreads = v }
        if let v = try integer("WAITROOM_MAX_BODY_BYTES", in: 1024...(64 << 20)) { maxBodyBytes = v }
        if let v = nonEmpty("WAITROOM_REDIS_URL") {
            do {
                _ = try RedisConfiguration(url: v)
            } catch {
                throw ConfigurationError(key: "WAITROOM_REDIS_URL", message: (error as? RedisError)?.message ?? "\(error)")
            }
            redisURL = v
        }
        if let v = nonEmpty("WAITROOM_DATABASE_URL") {
            guard v.hasPrefix("postgres://") || v.hasPrefix("postgresql://") else {
                throw ConfigurationError(key: "WAITROOM_DATABASE_URL", message: "must start with postgres://")
            }
            databaseURL = v
        }
        adminToken = nonEmpty("WAITROOM_ADMIN_TOKEN")
        if let token = adminToken, token.utf8.count < 16 {
            throw ConfigurationError(key: "WAITROOM_ADMIN_TOKEN", message: "must have at least 16 characters")
        }
        if let v = nonEmpty("WAITROOM_SIGNING_KEY") {
            do {
                signingKeys = try SigningKeyring(configuration: v)
            } catch {
                throw ConfigurationError(key: "WAITROOM_SIGNING_KEY", message: error.message)
            }
            signingKeyIsEphemeral = false
        } else {
            signingKeys = .random()
            signingKeyIsEphemeral = true
        }
        if let v = nonEmpty("WAITROOM_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: v.lowercased()) else {
                throw ConfigurationError(key: "WAITROOM_LOG_LEVEL", message: "must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
        if let raw = nonEmpty("WAITROOM_JOIN_RATE_PER_ADDRESS") {
            guard let v = Double(raw), v >= 0, v.isFinite else {
                throw ConfigurationError(key: "WAITROOM_JOIN_RATE_PER_ADDRESS", message: "must be a number ≥ 0 (0 turns the limit off)")
            }
            joinRatePerAddress = v
        }
        if let v = try integer("WAITROOM_ABANDON_AFTER_SECONDS", in: 5...86_400) { abandonAfterSeconds = v }
        if let v = try integer("WAITROOM_HOLD_SECONDS", in: 1...86_400) { reservations.holdSeconds = v }
        if let v = try integer("WAITROOM_TICKETS_PER_ADMISSION", in: 0...1_000) { reservations.ticketsPerAdmission = v }
        if let v = try integer("WAITROOM_INVENTORY_BATCH", in: 1...1_000) { reservations.maxBatchSize = v }
        if let v = try integer("WAITROOM_INVENTORY_LOCK_TIMEOUT_MS", in: 10...60_000) { reservations.lockTimeout = .milliseconds(v) }
        if let v = try integer("WAITROOM_SWEEP_MS", in: 100...600_000) { reservations.sweepInterval = .milliseconds(v) }
        if let v = try integer("WAITROOM_PAYMENT_TIMEOUT_SECONDS", in: 1...86_400) { paymentTimeoutSeconds = v }
        if let v = try integer("WAITROOM_PAYMENT_LATENCY_MS", in: 0...600_000) { paymentLatencyMilliseconds = v }
        if let raw = nonEmpty("WAITROOM_PAYMENT_DUPLICATE_RATE") {
            guard let v = Double(raw), (0...1).contains(v) else {
                throw ConfigurationError(key: "WAITROOM_PAYMENT_DUPLICATE_RATE", message: "must be a number in 0...1")
            }
            paymentDuplicateRate = v
        }
        if let v = nonEmpty("WAITROOM_PAYMENT_WEBHOOK_SECRET") {
            guard v.utf8.count >= 16 else {
                throw ConfigurationError(key: "WAITROOM_PAYMENT_WEBHOOK_SECRET", message: "must have at least 16 characters")
            }
            paymentWebhookSecret = v
        }
        if let v = try integer("WAITROOM_SAGA_MAX_ATTEMPTS", in: 1...1_000) { sagaMaxAttempts = v }
        if let v = nonEmpty("WAITROOM_PAYMENT_PROVIDER") {
            guard v == "simulator" || v == "http" else {
                throw ConfigurationError(key: "WAITROOM_PAYMENT_PROVIDER", message: "must be simulator or http")
            }
            paymentProvider = v
        }
        paymentURL = nonEmpty("WAITROOM_PAYMENT_URL")
        paymentAPIKey = nonEmpty("WAITROOM_PAYMENT_API_KEY")
        if paymentProvider == "http" {
            guard let url = paymentURL, url.hasPrefix("http://") else {
                throw ConfigurationError(key: "WAITROOM_PAYMENT_URL", message: "the http provider needs an http:// URL")
            }
        }
        if let v = nonEmpty("WAITROOM_OUTBOX_WEBHOOK_URL") {
            guard v.hasPrefix("http://") else {
                throw ConfigurationError(key: "WAITROOM_OUTBOX_WEBHOOK_URL", message: "must be an http:// URL")
            }
            outboxWebhookURL = v
        }
        if let v = nonEmpty("WAITROOM_ROLE") {
            guard let parsed = ServerRole(parsing: v) else {
                throw ConfigurationError(key: "WAITROOM_ROLE", message: "must be all, edge or saga, got '\(v)'")
            }
            role = parsed
        }
        if let v = nonEmpty("WAITROOM_PAYMENT_WEBHOOK_URL") {
            guard v.hasPrefix("http://") else {
                throw ConfigurationError(key: "WAITROOM_PAYMENT_WEBHOOK_URL", message: "must be an http:// URL")
            }
            paymentWebhookURL = v
        }
        if let v = nonEmpty("WAITROOM_TRUSTED_PROXIES") { trustedProxies = try TrustedProxies(configuration: v) }
        if let v = nonEmpty("WAITROOM_LOG_FORMAT") {
            switch v.lowercased() {
            case "json": logJSON = true
            case "text": logJSON = false
            default: throw ConfigurationError(key: "WAITROOM_LOG_FORMAT", message: "must be text or json")
            }
        }
        func seconds(_ key: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
            guard let raw = nonEmpty(key) else { return nil }
            guard let v = Double(raw), range.contains(v) else {
                throw ConfigurationError(key: key, message: "must be a number of seconds in \(range.lowerBound)...\(range.upperBound), got '\(raw)'")
            }
            return v
        }
        if let v = try seconds("WAITROOM_DRAIN_SECONDS", in: 0...600) { drainSeconds = v }
        if let v = try seconds("WAITROOM_HEADER_TIMEOUT_SECONDS", in: 0.1...3_600) { headerTimeoutSeconds = v }
        if let v = try seconds("WAITROOM_BODY_TIMEOUT_SECONDS", in: 0.1...3_600) { bodyTimeoutSeconds = v }
        if let v = try seconds("WAITROOM_BODY_DEADLINE_SECONDS", in: 0.1...3_600) { bodyDeadlineSeconds = v }
        if let v = try seconds("WAITROOM_IDLE_TIMEOUT_SECONDS", in: 0.1...86_400) { idleTimeoutSeconds = v }
    }

    /// The environment a worker process is started with: one configuration for all of them, and
    /// above all one signing key (an ephemeral key is made once, by the supervisor).
    public func workerEnvironment(base: [String: String], workerIndex: Int) -> [String: String] {
        var env = base
        env["WAITROOM_HOST"] = host
        env["WAITROOM_PORT"] = String(port)
        env["WAITROOM_PROCESSES"] = String(processes)
        env["WAITROOM_EVENT_LOOPS"] = String(eventLoopThreads)
        env["WAITROOM_REDIS_URL"] = redisURL
        env["WAITROOM_DATABASE_URL"] = databaseURL
        env["WAITROOM_SIGNING_KEY"] = signingKeys.configurationString
        env["WAITROOM_LOG_LEVEL"] = logLevel.rawValue
        env["WAITROOM_LOG_FORMAT"] = logJSON ? "json" : "text"
        env["WAITROOM_MAX_BODY_BYTES"] = String(maxBodyBytes)
        env["WAITROOM_DRAIN_SECONDS"] = String(drainSeconds)
        env["WAITROOM_HEADER_TIMEOUT_SECONDS"] = String(headerTimeoutSeconds)
        env["WAITROOM_BODY_TIMEOUT_SECONDS"] = String(bodyTimeoutSeconds)
        env["WAITROOM_BODY_DEADLINE_SECONDS"] = String(bodyDeadlineSeconds)
        env["WAITROOM_IDLE_TIMEOUT_SECONDS"] = String(idleTimeoutSeconds)
        env["WAITROOM_WORKER_INDEX"] = String(workerIndex)
        env["WAITROOM_JOIN_RATE_PER_ADDRESS"] = String(joinRatePerAddress)
        env["WAITROOM_ABANDON_AFTER_SECONDS"] = String(abandonAfterSeconds)
        env["WAITROOM_PAYMENT_TIMEOUT_SECONDS"] = String(paymentTimeoutSeconds)
        env["WAITROOM_PAYMENT_LATENCY_MS"] = String(paymentLatencyMilliseconds)
        env["WAITROOM_PAYMENT_DUPLICATE_RATE"] = String(paymentDuplicateRate)
        if let paymentWebhookSecret { env["WAITROOM_PAYMENT_WEBHOOK_SECRET"] = paymentWebhookSecret }
        env["WAITROOM_SAGA_MAX_ATTEMPTS"] = String(sagaMaxAttempts)
        env["WAITROOM_PAYMENT_PROVIDER"] = paymentProvider
        if let paymentURL { env["WAITROOM_PAYMENT_URL"] = paymentURL }
        if let paymentAPIKey { env["WAITROOM_PAYMENT_API_KEY"] = paymentAPIKey }
        if let outboxWebhookURL { env["WAITROOM_OUTBOX_WEBHOOK_URL"] = outboxWebhookURL }
        env["WAITROOM_ROLE"] = role.rawValue
        if let paymentWebhookURL { env["WAITROOM_PAYMENT_WEBHOOK_URL"] = paymentWebhookURL }
        env["WAITROOM_TRUSTED_PROXIES"] = trustedProxies.configurationString
        env["WAITROOM_HOLD_SECONDS"] = String(reservations.holdSeconds)
        env["WAITROOM_TICKETS_PER_ADMISSION"] = String(reservations.ticketsPerAdmission)
        env["WAITROOM_INVENTORY_BATCH"] = String(reservations.maxBatchSize)
        env["WAITROOM_INVENTORY_LOCK_TIMEOUT_MS"] = String(reservations.lockTimeout.wholeMilliseconds)
        env["WAITROOM_SWEEP_MS"] = String(reservations.sweepInterval.wholeMilliseconds)
        if let adminToken { env["WAITROOM_ADMIN_TOKEN"] = adminToken }
        // jemalloc keeps freed pages resident for 10 s by default; a worker holding many idle
        // streams hands back what a burst of requests freed within a second instead. An operator's
        // own MALLOC_CONF wins.
        if env["MALLOC_CONF"] == nil { env["MALLOC_CONF"] = Self.workerMallocConfiguration }
        return env
    }

    /// The edge's limits and timeouts from this configuration.
    public var edge: EdgeConfiguration {
        func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
        return EdgeConfiguration(
            host: host, port: port, reusePort: true, maxBodyBytes: maxBodyBytes,
            headerTimeout: duration(headerTimeoutSeconds), bodyTimeout: duration(bodyTimeoutSeconds),
            bodyDeadline: duration(bodyDeadlineSeconds), idleTimeout: duration(idleTimeoutSeconds),
            drainTimeout: duration(drainSeconds), eventLoopCount: eventLoopThreads)
    }

    /// The jemalloc options of workers unless MALLOC_CONF is set: freed pages go back after 1 s.
    public static let workerMallocConfiguration = "dirty_decay_ms:1000"
}

/// A configuration value that cannot be used; names the variable.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let message: String
    public var description: String { "\(key) \(message)" }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
