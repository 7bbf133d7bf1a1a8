import NIOCore

/// Tuning of an ``SSEHub``.
public struct SSEHubConfiguration: Sendable {
    /// The `retry:` sent when a stream opens (browser reconnect delay), in milliseconds.
    public var retryMilliseconds: Int
    /// The `retry:` sent when the server drains, so browsers come back (elsewhere) quickly.
    public var reconnectRetryMilliseconds: Int
    /// The shortest time between two ``SSEStreamUpdate/latest(_:)`` values on one stream.
    public var minimumInterval: TimeAmount
    /// Under overload (see ``overloadLag``) the interval between two latest values grows up to
    /// this; equal to ``minimumInterval`` turns shedding off.
    public var maximumInterval: TimeAmount
    /// A loop whose timers run later than this (smoothed) is overloaded: it stretches the
    /// interval between latest values (``SSEPacing``).
    public var overloadLag: TimeAmount
    /// How often each loop measures how late its timers run.
    public var lagProbeInterval: TimeAmount
    /// The longest time a stream stays silent: a `: keepalive` comment is sent after it.
    public var keepaliveInterval: TimeAmount
    /// A tick that reaches a stream at most this long before its ``minimumInterval`` has passed
    /// (ticks jitter) has it sent exactly when due. An earlier tick leaves it to the next tick,
    /// which then sends the freshest value at once instead of one already old.
    public var earlyTickWindow: TimeAmount
    /// When no tick comes after an early one, the stream is sent this long after it was due.
    public var lateTickGrace: TimeAmount
    /// How many streams one task of a walk visits before it lets the loop run other work (and
    /// continues in the next task). Default: the whole walk in one task. Slices keep the loop
    /// responsive, but they also hide overload from the lag probe (timers run between slices
    /// while the loop is saturated): a 50,000-user on-sale with slices of 256 never shed position
    /// frames, checkout starved and orders timed out, and the same run without slices passed
    /// every check. Slice (`WAITROOM_SSE_WALK_SLICE`) only together with pacing that measures the
    /// loop's busy time, which is not built yet.
    public var walkSlice: Int
    /// Frames go straight to the socket (``HTTPDirectSocket``) when they can; `false` writes
    /// every frame through NIO (`WAITROOM_SSE_DIRECT_WRITES=0`).
    public var directWrites: Bool

    /// The defaults: retry 3 s, reconnect 250 ms, one update a second, keepalive 15 s, early-tick
    /// window 50 ms, late-tick grace 250 ms (more than the 100 ms between admission ticks), walks
    /// not sliced;
    /// under overload (timers 100 ms late) the interval stretches up to 5 s, probed every 250 ms.
    public init(
        retryMilliseconds: Int = 3000,
        reconnectRetryMilliseconds: Int = 250,
        minimumInterval: TimeAmount = .seconds(1),
        maximumInterval: TimeAmount = .seconds(5),
        overloadLag: TimeAmount = .milliseconds(100),
        lagProbeInterval: TimeAmount = .milliseconds(250),
        keepaliveInterval: TimeAmount = .seconds(15),
        earlyTickWindow: TimeAmount = .milliseconds(50),
        lateTickGrace: TimeAmount = .milliseconds(250),
        walkSlice: Int = .max,
        directWrites: Bool = true
    ) {
        self.directWrites = directWrites
        self.walkSlice = walkSlice
        self.earlyTickWindow = earlyTickWindow
        self.lateTickGrace = lateTickGrace
        self.retryMilliseconds = retryMilliseconds
        self.reconnectRetryMilliseconds = reconnectRetryMilliseconds
        self.minimumInterval = minimumInterval
        self.maximumInterval = maximumInterval
        self.overloadLag = overloadLag
        self.lagProbeInterval = lagProbeInterval
        self.keepaliveInterval = keepaliveInterval
    }
}
