/// How many connections a worker should have started by a given time when ramping at a fixed rate.
public struct RampSchedule: Sendable, Equatable {
    /// Connections to start in all.
    public var target: Int
    /// Connections per second (for this worker); `0` or less means all at once.
    public var ratePerSecond: Double

    /// Creates a schedule.
    public init(target: Int, ratePerSecond: Double) {
        self.target = target
        self.ratePerSecond = ratePerSecond
    }

    /// The number that should have been started `seconds` after the ramp began.
    public func due(after seconds: Double) -> Int {
        guard self.ratePerSecond > 0 else { return self.target }
        let due = Int((self.ratePerSecond * max(seconds, 0)).rounded(.down)) + 1
        return min(self.target, due)
    }

    /// The seconds the whole ramp takes.
    public var duration: Double {
        self.ratePerSecond > 0 ? Double(max(self.target - 1, 0)) / self.ratePerSecond : 0
    }

    /// Splits `total` connections over `workers` as evenly as possible; worker `index` gets its share.
    public static func share(of total: Int, workers: Int, index: Int) -> Int {
        total / workers + (index < total % workers ? 1 : 0)
    }
}
