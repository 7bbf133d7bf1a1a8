import NIOCore

/// Overload shedding for position values: the shortest time between two values on a stream
/// (normally ``SSEHubConfiguration/minimumInterval``) grows while the stream's event loop runs
/// late, and shrinks back when it catches up.
///
/// Position frames are the bulk of a waiting room's work (one per waiter per interval); when a
/// machine cannot keep up with them, everything on it is late, admission ticks and checkout
/// included. Stretching the interval sheds exactly that work and nothing else: `admitted`,
/// `sold_out`, `paused` and the values of urgent keys are not paced, and every value sent is
/// still exact when it is sent.
///
/// The loop's lateness is probed every ``SSEHubConfiguration/lagProbeInterval``; a smoothed lag
/// above ``SSEHubConfiguration/overloadLag`` stretches the interval by a quarter (up to
/// ``SSEHubConfiguration/maximumInterval``), one under a quarter of it shrinks it by an eighth
/// of the way back to the minimum (snapping to it within 5 %).
struct SSEPacing: Sendable {
    let minimum: TimeAmount
    let maximum: TimeAmount
    let overloadLag: TimeAmount
    /// The interval in force.
    private(set) var interval: TimeAmount
    /// Exponentially smoothed lag (half the weight on the newest probe), in nanoseconds.
    private(set) var smoothedLag: Int64 = 0

    init(configuration: SSEHubConfiguration) {
        self.minimum = configuration.minimumInterval
        self.maximum = max(configuration.maximumInterval, configuration.minimumInterval)
        self.overloadLag = configuration.overloadLag
        self.interval = configuration.minimumInterval
    }

    /// Takes one probe's lateness; returns `true` when the interval changed.
    mutating func observe(lag: TimeAmount) -> Bool {
        let lag = max(0, lag.nanoseconds)
        smoothedLag = (smoothedLag + lag) / 2
        let before = interval
        if smoothedLag > overloadLag.nanoseconds {
            interval = .nanoseconds(min(maximum.nanoseconds, interval.nanoseconds + max(interval.nanoseconds / 4, 1)))
        } else if smoothedLag < overloadLag.nanoseconds / 4, interval > minimum {
            let excess = interval.nanoseconds - minimum.nanoseconds
            let left = excess - (excess + 7) / 8
            // Within 5 % of the minimum (or 1 ms) is the minimum: no endless tail of tiny steps.
            interval = left < max(minimum.nanoseconds / 20, 1_000_000) ? minimum : .nanoseconds(minimum.nanoseconds + left)
        }
        return interval != before
    }

    /// The interval is above its minimum: this loop is shedding position values.
    var isShedding: Bool { interval > minimum }
}
