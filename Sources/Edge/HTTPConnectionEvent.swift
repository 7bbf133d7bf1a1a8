/// Outbound user events from ``HTTPConnectionHandler`` to ``ConnectionTimeoutHandler``, which
/// sits in front of the HTTP codec and cannot see request boundaries itself.
enum HTTPConnectionEvent: Sendable {
    case requestHeadReceived
    case requestEndReceived
    case responseCompleted
}

/// Inbound user event sent to every connection when graceful shutdown starts (after
/// `ChannelShouldQuiesceEvent`, which ``HTTP1ServerCodec`` consumes), so open streams can end.
struct EdgeDrainEvent: Sendable {}
