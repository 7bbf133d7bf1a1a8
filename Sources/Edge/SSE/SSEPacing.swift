import NIOCore

/// Overload shedding for position values: the shortest time between two values on a stream
/// (normally ``SSEHubConfiguration/minimumInterval``) grows while the stream's event loop is
/// overloaded, and shrinks back when it has room again.
///
/// Position frames are the bulk of a waiting room's work (one per waiter per interval); when a
/// machine cannot keep up with them, everything on it is late, admission ticks and checkout
/// included. Stretching the interval sheds exactly that work and nothing else: `admitted`,
/// `sold_out`, `paused` and the values of urgent keys are not paced, and every value sent is
/// still exact when it is sent.
///
/// Two signals, probed every ``SSEHubConfiguration/lagProbeInterval``:
/// - **busy**: the share of the last two seconds (the last eight probes) of wall time the loop spent
///   walking streams. Walks run in slices, so other work runs between them and timers stay
///   punctual however saturated the machine is; the time the walks take is what shows it (a
///   slice that is preempted on a saturated machine takes longer). Over
///   ``SSEHubConfiguration/overloadBusy`` is overload.
/// - **lag**: how late the probe's timer ran (smoothed, half the weight on the newest probe).
///   Over ``SSEHubConfiguration/overloadLag`` is overload (work other than walks holding the loop).
///
/// Under overload the interval stretches by a quarter (up to ``SSEHubConfiguration/maximumInterval``).
/// With the lag under a quarter of its threshold, it shrinks by an eighth of the way back to the
/// minimum (snapping to it within 5 %), if the busy share predicted at the shorter interval (walks
/// cost in proportion to how often they send) stays under 85 % of its threshold: the interval
/// settles where the load fits instead of swinging between stretched and overloaded.
struct SSEPacing: Sendable {
    let minimum: TimeAmount
    let maximum: TimeAmount
    let overloadLag: TimeAmount
    let overloadBusy: Double
    /// The interval in force.
    private(set) var interval: TimeAmount
    /// Exponentially smoothed lag (half the weight on the newest probe), in nanoseconds.
    private(set) var smoothedLag: Int64 = 0
    /// The last probes' busy and elapsed nanoseconds (a ring of ``window`` entries).
    private var busyRing: [(busy: Int64, elapsed: Int64)] = []
    private var ringNext = 0
    /// Two seconds at the default probe interval: one burst (every stream due at once, as when
    /// admission starts) is not overload; a second of walks without a break is.
    static let window = 8
    /// The busy share a shorter interval may be predicted to reach, as a part of the threshold.
    static let relaxMargin = 0.85

    init(configuration: SSEHubConfiguration) {
        self.minimum = configuration.minimumInterval
        self.maximum = max(configuration.maximumInterval, configuration.minimumInterval)
        self.overloadLag = configuration.overloadLag
        self.overloadBusy = configuration.overloadBusy
        self.interval = configuration.minimumInterval
    }

    /// The share of the window's wall time spent walking (0 until the window is full: one long
    /// walk at the start is not overload).
    var busyShare: Double {
        guard busyRing.count == Self.window else { return 0 }
        let elapsed = busyRing.reduce(Int64(0)) { $0 + $1.elapsed }
        guard elapsed > 0 else { return 0 }
        return Double(busyRing.reduce(Int64(0)) { $0 + $1.busy }) / Double(elapsed)
    }

    /// Takes one probe: how late its timer ran, and how long of the `elapsed` time since the
    /// previous probe the loop spent walking. Returns `true` when the interval changed.
    mutating func observe(lag: TimeAmount, busy: TimeAmount = .zero, elapsed: TimeAmount = .zero) -> Bool {
        let lag = max(0, lag.nanoseconds)
        smoothedLag = (smoothedLag + lag) / 2
        if elapsed > .zero {
            let sample = (busy: max(0, busy.nanoseconds), elapsed: elapsed.nanoseconds)
            if busyRing.count < Self.window {
                busyRing.append(sample)
            } else {
                busyRing[ringNext] = sample
                ringNext = (ringNext + 1) % Self.window
            }
        }
        let share = busyShare
        let before = interval
        if smoothedLag > overloadLag.nanoseconds || share > overloadBusy {
            interval = .nanoseconds(min(maximum.nanoseconds, interval.nanoseconds + max(interval.nanoseconds / 4, 1)))
        } else if smoothedLag < overloadLag.nanoseconds / 4, interval > minimum {
            let excess = interval.nanoseconds - minimum.nanoseconds
            let left = excess - (excess + 7) / 8
            // Within 5 % of the minimum (or 1 ms) is the minimum: no endless tail of tiny steps.
            let next: TimeAmount = left < max(minimum.nanoseconds / 20, 1_000_000) ? minimum : .nanoseconds(minimum.nanoseconds + left)
            // Walks cost in proportion to how often they send: at the shorter interval the busy
            // share would be share × interval ÷ next. Relax only if that stays clear of the
            // threshold, so the interval settles where the load fits instead of swinging.
            let predicted = share * Double(interval.nanoseconds) / Double(next.nanoseconds)
            if predicted < overloadBusy * Self.relaxMargin { interval = next }
        }
        return interval != before
    }

    /// The interval is above its minimum: this loop is shedding position values.
    var isShedding: Bool { interval > minimum }
}
