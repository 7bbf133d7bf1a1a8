/// A push message on a subscribed connection (RESP2 pub/sub arrays).
enum RedisPushMessage: Sendable {
    /// `message channel payload`, or `pmessage pattern channel payload` (then `pattern` is set).
    case message(channel: String, pattern: String?, payload: RedisValue)
    /// `subscribe`/`psubscribe` confirmation for one channel or pattern.
    case subscribed(name: String, isPattern: Bool)
    /// `unsubscribe`/`punsubscribe` confirmation.
    case unsubscribed(name: String, isPattern: Bool)

    /// Recognises a push array; anything else is `nil` (an ordinary reply).
    init?(_ value: RedisValue) {
        guard case .array(let items) = value, items.count >= 3, let kind = items[0].string else { return nil }
        switch kind.lowercased() {
        case "message":
            guard let channel = items[1].string else { return nil }
            self = .message(channel: channel, pattern: nil, payload: items[2])
        case "pmessage":
            guard items.count >= 4, let pattern = items[1].string, let channel = items[2].string else { return nil }
            self = .message(channel: channel, pattern: pattern, payload: items[3])
        case "subscribe", "psubscribe":
            guard let name = items[1].string else { return nil }
            self = .subscribed(name: name, isPattern: kind.lowercased() == "psubscribe")
        case "unsubscribe", "punsubscribe":
            guard let name = items[1].string else { return nil }
            self = .unsubscribed(name: name, isPattern: kind.lowercased() == "punsubscribe")
        default:
            return nil
        }
    }
}
