#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures admissions per second as an exponentially weighted moving average over windows of at
/// least ``window`` seconds; until one window is complete, the configured rate stands in.
/// Pure: time is passed in (seconds on any monotonic clock).
public struct AdmissionRateEstimator: Sendable, Equatable {
    /// The half-life of the average, in seconds.
    public var halfLife: Double
    /// The shortest sampling window, in seconds.
    public var window: Double
    /// The measured rate, once a window has completed.
    public private(set) var measured: Double?
    private var windowStart: Double?
    private var windowAdmitted = 0

    /// An estimator with no measurement yet.
    public init(halfLife: Double = 5, window: Double = 1) {
        self.halfLife = halfLife
        self.window = window
    }

    /// Records `admitted` admissions observed at time `now`.
    public mutating func record(admitted: Int, at now: Double) {
        guard let start = self.windowStart else {
            // The first observation only opens a window: what it saw happened before it.
            self.windowStart = now
            self.windowAdmitted = 0
            return
        }
        self.windowAdmitted += max(0, admitted)
        let elapsed = now - start
        guard elapsed >= self.window else { return }
        let sample = Double(self.windowAdmitted) / elapsed
        if let previous = self.measured {
            let alpha = 1 - exp2(-elapsed / self.halfLife)
            self.measured = previous + alpha * (sample - previous)
        } else {
            self.measured = sample
        }
        self.windowStart = now
        self.windowAdmitted = 0
    }

    /// Forgets the open window (while admission is paused nothing is measured).
    public mutating func suspend() {
        self.windowStart = nil
        self.windowAdmitted = 0
    }

    /// The rate to use for estimates: the measured one if any and positive, else `configured`.
    public func rate(configured: Double) -> Double {
        if let measured = self.measured, measured > 0.001 { return measured }
        return configured
    }

    /// `ceil(position / rate)`, or `nil` when the rate is zero.
    public func etaSeconds(position: Int, configured: Double) -> Int? {
        Self.etaSeconds(position: position, rate: self.rate(configured: configured))
    }

    /// `ceil(position / rate)` capped at `Int32.max` (a tiny rate must not overflow the
    /// conversion to `Int`), or `nil` when the rate is not positive.
    public static func etaSeconds(position: Int, rate: Double) -> Int? {
        guard rate > 0, position >= 0 else { return nil }
        let seconds = (Double(position) / rate).rounded(.up)
        return seconds < Double(Int32.max) ? Int(seconds) : Int(Int32.max)
    }
}
