/// What the users of a run did during one second (`second` counted from the run's epoch), with
/// the latency of the steps that finished in it.
public struct SecondSample: Codable, Sendable, Equatable {
    /// Whole seconds since the run's epoch.
    public var second: Int
    /// Joins answered with a ticket.
    public var joined: UInt64 = 0
    /// `admitted` events received.
    public var admitted: UInt64 = 0
    /// Reservations answered `201`.
    public var reserved: UInt64 = 0
    /// Orders seen completed.
    public var completed: UInt64 = 0
    /// Unexpected failures.
    public var errors: UInt64 = 0
    /// Latency (µs) of the steps that finished in this second, keyed by `OnsaleStep.rawValue`.
    public var latency: [String: LatencyDigest] = [:]

    /// An empty second.
    public init(second: Int) { self.second = second }

    /// Adds `other` (the same second of another worker).
    public mutating func add(_ other: SecondSample) {
        self.joined += other.joined
        self.admitted += other.admitted
        self.reserved += other.reserved
        self.completed += other.completed
        self.errors += other.errors
        for (step, digest) in other.latency {
            self.latency[step] = LatencyDigest.merged(self.latency[step] ?? LatencyDigest(), digest)
        }
    }

    /// The union of two series by second, sorted by second; samples of the same second are added.
    public static func merged(_ a: [SecondSample], _ b: [SecondSample]) -> [SecondSample] {
        var bySecond: [Int: SecondSample] = [:]
        for sample in a + b {
            bySecond[sample.second, default: SecondSample(second: sample.second)].add(sample)
        }
        return bySecond.keys.sorted().map { bySecond[$0]! }
    }
}
