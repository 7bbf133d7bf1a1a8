/// What a stream should show, as the application resolves it for a stream's key.
public enum SSEStreamUpdate: Sendable, Hashable {
    /// The latest value (e.g. `position`): sent only when it differs from the last one sent, at
    /// most once per ``SSEHubConfiguration/minimumInterval``, and never queued for a slow reader.
    case latest(SSEEvent)
    /// A terminal event (e.g. `admitted`, `sold_out`): sent at once, then the stream ends.
    case final(SSEEvent)
}
