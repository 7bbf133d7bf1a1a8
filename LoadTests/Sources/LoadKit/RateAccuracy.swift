/// How close a measured admission rate came to the configured one, over the steady window of a
/// cumulative counter (e.g. the server's `admittedTotal` sampled once a second).
///
/// The steady window starts `trim` seconds after the counter first moved and ends `trim` seconds
/// before it last moved, so the start (the first tick) and the end (the sell-out, when admission
/// stops mid-second) do not count. The rate is the counter's change between the first and the
/// last sample inside that window, divided by the time between them.
public struct RateAccuracy: Codable, Sendable, Equatable {
    /// One reading of a cumulative counter.
    public struct Sample: Codable, Sendable, Equatable {
        /// Seconds since the run started.
        public var time: Double
        /// The counter's value then.
        public var total: Double

        /// A reading.
        public init(time: Double, total: Double) {
            self.time = time
            self.total = total
        }
    }

    /// The configured rate (per second).
    public var configured: Double
    /// The measured rate (per second) over the window.
    public var measured: Double
    /// Window start, seconds since the run started.
    public var windowStart: Double
    /// Window end, seconds since the run started.
    public var windowEnd: Double
    /// The counter's change over the window.
    public var count: Double

    /// The deviation from the configured rate, in percent (negative: slower).
    public var errorPercent: Double { (self.measured - self.configured) / self.configured * 100 }

    /// Whether the measured rate is within ±`percent` of the configured one.
    public func isWithin(percent: Double) -> Bool { abs(self.errorPercent) <= percent }

    /// The window length in seconds.
    public var windowSeconds: Double { self.windowEnd - self.windowStart }

    /// The steady-window rate of `samples` (in time order) against `configured`; `nil` when the
    /// counter never moved or the window is shorter than `minimumWindow` seconds.
    public static func measure(_ samples: [Sample], configured: Double, trim: Double = 2,
                               minimumWindow: Double = 5) -> RateAccuracy? {
        guard configured > 0, let first = samples.first else { return nil }
        // The last sample before the counter first moved, and the first after it last moved.
        guard let firstMove = samples.firstIndex(where: { $0.total > first.total }) else { return nil }
        let final = samples.last!.total
        guard let lastMove = samples.firstIndex(where: { $0.total >= final }) else { return nil }
        let moveStart = samples[max(firstMove - 1, 0)].time
        let moveEnd = samples[lastMove].time
        let inside = samples.filter { $0.time >= moveStart + trim && $0.time <= moveEnd - trim }
        guard let a = inside.first, let b = inside.last, b.time - a.time >= minimumWindow else { return nil }
        let measured = (b.total - a.total) / (b.time - a.time)
        return RateAccuracy(configured: configured, measured: measured, windowStart: a.time, windowEnd: b.time,
                            count: b.total - a.total)
    }

    /// Readings of a counter polled over HTTP, each stamped with the time the server says its
    /// value was reached (`valueTime`, e.g. the stats' `lastAdmissionAt`) where it says so, else
    /// with the time the poll was sent: a poll answered seconds late on a busy server then
    /// neither shifts a value earlier than it was reached (a false burst) nor later. In time
    /// order, one sample per distinct time.
    public static func stamped(_ readings: [(pollTime: Double, valueTime: Double?, total: Double)]) -> [Sample] {
        let samples = readings.map { Sample(time: $0.valueTime ?? $0.pollTime, total: $0.total) }
            .sorted { ($0.time, $0.total) < ($1.time, $1.total) }
        var out: [Sample] = []
        for sample in samples {
            if let last = out.last, last.time == sample.time {
                out[out.count - 1].total = max(last.total, sample.total)
            } else {
                out.append(sample)
            }
        }
        return out
    }

    /// The samples of a per-second count series as a cumulative counter read at each second's end.
    public static func cumulative(perSecond: [(second: Int, count: Double)]) -> [Sample] {
        guard let first = perSecond.map(\.second).min(), let last = perSecond.map(\.second).max() else { return [] }
        var counts = [Double](repeating: 0, count: last - first + 1)
        for entry in perSecond { counts[entry.second - first] += entry.count }
        var total = 0.0
        var samples = [Sample(time: Double(first), total: 0)]
        for (i, c) in counts.enumerated() {
            total += c
            samples.append(Sample(time: Double(first + i + 1), total: total))
        }
        return samples
    }

    /// The rate between consecutive samples, placed at the later sample's time (for charts).
    public static func perInterval(_ samples: [Sample]) -> [(x: Double, y: Double)] {
        zip(samples, samples.dropFirst()).compactMap { a, b in
            b.time > a.time ? (b.time, (b.total - a.total) / (b.time - a.time)) : nil
        }
    }
}
