/// What an edge knows about one order (a place in line), computed locally from the tracker's index.
public enum OrderStatus: Sendable, Equatable {
    /// Waiting: `position` 1 is next; `etaSeconds` is `nil` when no admission rate is known.
    case waiting(position: Int, etaSeconds: Int?)
    /// Admitted; the admission token should expire at `expiresAtMs` (unix ms).
    case admitted(expiresAtMs: Int64)
    /// Left the line without admission (left or abandoned).
    case departed
    /// The tracker has not loaded the event yet.
    case unknown
}
