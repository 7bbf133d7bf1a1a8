/// A message received by a ``RedisSubscriber``.
public struct RedisMessage: Sendable, Hashable {
    /// The channel it was published to.
    public var channel: String
    /// The pattern that matched, for pattern subscriptions; `nil` for channel subscriptions.
    public var pattern: String?
    /// The published payload (a bulk string).
    public var payload: RedisValue

    /// A message.
    public init(channel: String, pattern: String? = nil, payload: RedisValue) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// The payload as UTF-8 text.
    public var text: String? { payload.string }
}
