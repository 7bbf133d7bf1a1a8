/// A named dependency check run by `GET /readyz`, e.g. a Redis `PING` or a PostgreSQL `SELECT 1`.
///
/// The check passes when it returns and fails when it throws or outlives its timeout; a check
/// that ignores cancellation is abandoned at the timeout, never awaited.
public struct ReadinessCheck: Sendable {
    /// The dependency's name as reported, e.g. `redis`.
    public var name: String
    /// The timeout of this check; `nil` uses ``EdgeConfiguration/readinessCheckTimeout``.
    public var timeout: Duration?
    /// The check itself.
    public var check: @Sendable () async throws -> Void

    /// Creates a check.
    public init(name: String, timeout: Duration? = nil, _ check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.timeout = timeout
        self.check = check
    }
}
