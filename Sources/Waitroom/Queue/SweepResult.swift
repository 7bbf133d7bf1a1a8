/// What one sweep (``QueueStore/sweep(event:now:batch:)``) did.
public struct SweepResult: Sendable, Hashable {
    /// Waiting places abandoned in this sweep.
    public var abandoned: Int
    /// Edge processes found dead (no heartbeat for 10 s).
    public var deadEdges: Int
    /// Streams of dead edges counted as closed.
    public var streamsClosed: Int

    /// A result from parts.
    public init(abandoned: Int, deadEdges: Int, streamsClosed: Int) {
        self.abandoned = abandoned
        self.deadEdges = deadEdges
        self.streamsClosed = streamsClosed
    }
}
