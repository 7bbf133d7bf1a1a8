import NIOCore

/// Counts of an ``SSEHub``, summed over its event loops.
public struct SSEHubStats: Sendable, Equatable {
    /// Open streams.
    public var streams: Int
    /// Streams waiting for their channel to become writable again (each holds at most one
    /// pending value: it is resolved afresh when writability returns).
    public var pendingStreams: Int
    /// Events with at least one stream.
    public var events: Int
    /// The longest interval between position values in force on any loop: above the
    /// configured minimum while a loop sheds load (``SSEHubConfiguration/overloadLag``,
    /// ``SSEHubConfiguration/overloadBusy``).
    public var updateInterval: TimeAmount
    /// The highest share of the last two seconds any loop spent walking streams.
    public var busyShare: Double
    /// Loops whose direct writes go to the kernel in batches (``SSEHubConfiguration/batchedSends``).
    public var batchedLoops = 0
    /// Batches submitted, and the frames they carried, since the start.
    public var sendBatches = 0
    public var batchedFrames = 0

    /// Stats with the given counts.
    public init(streams: Int = 0, pendingStreams: Int = 0, events: Int = 0, updateInterval: TimeAmount = .zero, busyShare: Double = 0) {
        self.streams = streams
        self.pendingStreams = pendingStreams
        self.events = events
        self.updateInterval = updateInterval
        self.busyShare = busyShare
    }
}
