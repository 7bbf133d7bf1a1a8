/// The timed steps of one on-sale user, in the order a user goes through them.
public enum OnsaleStep: String, CaseIterable, Codable, Sendable {
    /// `POST …/queue`, request to response.
    case join
    /// `GET …/stream` sent → first `position` event.
    case streamFirstPosition = "stream_first_position"
    /// First `position` event → `admitted` event (the wait in the queue).
    case queueWait = "queue_wait"
    /// `admitted` received − the edge's admission tick (`ts` of the event), when the server sends it.
    case admittedLag = "admitted_lag"
    /// `POST …/reservations`, request to response (201 or 409).
    case reserve
    /// `POST …/confirm`, request to `202`.
    case confirm
    /// Confirm sent → the order seen `completed` by polling.
    case confirmToCompleted = "confirm_to_completed"

    /// The label in tables and charts.
    public var label: String {
        switch self {
        case .join: return "join"
        case .streamFirstPosition: return "stream → first position"
        case .queueWait: return "wait in queue"
        case .admittedLag: return "admitted event lag"
        case .reserve: return "reserve"
        case .confirm: return "confirm"
        case .confirmToCompleted: return "confirm → completed"
        }
    }
}
