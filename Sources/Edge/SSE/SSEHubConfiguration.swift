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
    /// A loop that spent more than this share of the last two seconds' wall time walking streams is
    /// overloaded (``SSEPacing``): the machine cannot give position frames what they ask for
    /// and leave room for the rest (checkout, joins, admission).
    public var overloadBusy: Double
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
    /// continues in the next task), so requests on the loop wait for one slice, not a whole
    /// walk. Slices hide overload from the lag probe (timers run between slices while the loop
    /// is saturated: a 50,000-user on-sale with slices and lag-only pacing never shed, and
    /// checkout starved); ``overloadBusy`` is the signal that sees it. `WAITROOM_SSE_WALK_SLICE`.
    public var walkSlice: Int
    /// Frames go straight to the socket (``HTTPDirectSocket``) when they can; `false` writes
    /// every frame through NIO (`WAITROOM_SSE_DIRECT_WRITES=0`).
    public var directWrites: Bool
    /// The direct writes of a walk slice go to the kernel in one io_uring submission
    /// (``SSESendBatch``) where the kernel offers it; `false` sends each with its own `send`
    /// (`WAITROOM_SSE_BATCHED_SENDS=0`).
    public var batchedSends: Bool

    /// The defaults: retry 3 s, reconnect 250 ms, one update a second, keepalive 15 s, early-tick
    /// window 50 ms, late-tick grace 250 ms (more than the 100 ms between admission ticks), walks
    /// in slices of 256 streams; under overload (timers 100 ms late, or walks taking more than
    /// 60 % of the loop's time) the interval stretches up to 5 s, probed every 250 ms.
    public init(
        retryMilliseconds: Int = 3000,
        reconnectRetryMilliseconds: Int = 250,
        minimumInterval: TimeAmount = .seconds(1),
        maximumInterval: TimeAmount = .seconds(5),
        overloadLag: TimeAmount = .milliseconds(100),
        overloadBusy: Double = 0.6,
        lagProbeInterval: TimeAmount = .milliseconds(250),
        keepaliveInterval: TimeAmount = .seconds(15),
        earlyTickWindow: TimeAmount = .milliseconds(50),
        lateTickGrace: TimeAmount = .milliseconds(250),
        walkSlice: Int = 256,
        directWrites: Bool = true,
        batchedSends: Bool = true
    ) {
        self.directWrites = directWrites
        self.batchedSends = batchedSends
        self.walkSlice = walkSlice
        self.earlyTickWindow = earlyTickWindow
        self.lateTickGrace = lateTickGrace
        self.retryMilliseconds = retryMilliseconds
        self.reconnectRetryMilliseconds = reconnectRetryMilliseconds
        self.minimumInterval = minimumInterval
        self.maximumInterval = maximumInterval
        self.overloadLag = overloadLag
        self.overloadBusy = overloadBusy
        self.lagProbeInterval = lagProbeInterval
        self.keepaliveInterval = keepaliveInterval
    }
}
