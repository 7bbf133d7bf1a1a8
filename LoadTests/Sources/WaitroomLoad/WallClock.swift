import Glibc

/// Wall-clock and monotonic time helpers (the publisher's `ts` is wall-clock microseconds).
enum WallClock {
    /// Microseconds since the Unix epoch.
    static func unixMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
    }

    /// Seconds on a monotonic clock (for elapsed times).
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
