import NIOCore

/// Tuning of an ``SSEHub``.
public struct SSEHubConfiguration: Sendable {
    /// The `retry:` sent when a stream opens (browser reconnect delay), in milliseconds.
    public var retryMilliseconds: Int
    /// The `retry:` sent when the server drains, so browsers come back (elsewhere) quickly.
    public var reconnectRetryMilliseconds: Int
    /// The shortest time between two ``SSEStreamUpdate/latest(_:)`` values on one stream.
    public var minimumInterval: TimeAmount
    /// The longest time a stream stays silent: a `: keepalive` comment is sent after it.
    public var keepaliveInterval: TimeAmount

    /// The defaults: retry 3 s, reconnect 250 ms, one update a second, keepalive 15 s.
    public init(
        retryMilliseconds: Int = 3000,
        reconnectRetryMilliseconds: Int = 250,
        minimumInterval: TimeAmount = .seconds(1),
        keepaliveInterval: TimeAmount = .seconds(15)
    ) {
        self.retryMilliseconds = retryMilliseconds
        self.reconnectRetryMilliseconds = reconnectRetryMilliseconds
        self.minimumInterval = minimumInterval
        self.keepaliveInterval = keepaliveInterval
    }
}
