/// The outcome of ``QueueStore/join(event:userId:now:)``.
public struct JoinResult: Sendable, Hashable {
    /// The sequence number: goes into the ticket.
    public var seq: Int
    /// The order (place in line); `nil` in the pre-queue until the lottery draws it.
    public var order: Int?
    /// The place's state (`waiting` for a new place; anything for a returning `userId`).
    public var state: PlaceState.Kind
    /// `true` for a new place, `false` when the `userId` already had one (`200` not `201`).
    public var isNew: Bool

    /// A result from parts.
    public init(seq: Int, order: Int?, state: PlaceState.Kind, isNew: Bool) {
        self.seq = seq
        self.order = order
        self.state = state
        self.isNew = isNew
    }
}
