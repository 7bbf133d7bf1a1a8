/// Where one place (one seq) stands.
public struct PlaceState: Sendable, Hashable {
    /// The life cycle of a place.
    public enum Kind: String, Sendable, Hashable {
        /// In line (or in the pre-queue before opening).
        case waiting = "w"
        /// Admitted; the admission runs until ``PlaceState/admissionExpiresAtMilliseconds``.
        case admitted = "a"
        /// Left the line (`DELETE`).
        case left = "l"
        /// Abandoned: no stream and no poll for `abandonAfter`.
        case abandoned = "x"
        /// Admitted, but the admission ran out.
        case expired = "e"
        /// Admitted and then finished (left after admission).
        case done = "d"
    }

    /// The sequence number (from the ticket).
    public var seq: Int
    /// The state.
    public var state: Kind
    /// The order (place in line); `nil` before the lottery has drawn it.
    public var order: Int?
    /// The exact position (waiting places ahead, plus one) for a place waiting in the open line.
    public var position: Int?
    /// When the admission expires (unix ms), for admitted places.
    public var admissionExpiresAtMilliseconds: Int64?
    /// Whether the event is sold out.
    public var soldOut: Bool

    /// A state from parts.
    public init(seq: Int, state: Kind, order: Int?, position: Int?, admissionExpiresAtMilliseconds: Int64?, soldOut: Bool) {
        self.seq = seq
        self.state = state
        self.order = order
        self.position = position
        self.admissionExpiresAtMilliseconds = admissionExpiresAtMilliseconds
        self.soldOut = soldOut
    }
}
