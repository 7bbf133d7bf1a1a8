import Histogram

/// A histogram of latencies in microseconds, in a sparse form that travels as one JSON line.
///
/// Children record into a `Histogram<UInt64>` and send its recorded buckets; the coordinator
/// merges them back into one histogram for the percentiles.
public struct LatencyDigest: Codable, Sendable, Equatable {
    /// `[value, count]` pairs of the non-empty buckets (value in microseconds).
    public var buckets: [[UInt64]]

    /// The histogram shape used on both sides: 1 µs … 1 hour, 3 significant digits.
    public static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    /// An empty digest.
    public init() { self.buckets = [] }

    /// The recorded buckets of `histogram`.
    public init(_ histogram: Histogram<UInt64>) {
        self.buckets = []
        guard histogram.totalCount > 0 else { return }
        for bucket in histogram.recordedValues() where bucket.count > 0 {
            self.buckets.append([bucket.value, bucket.count])
        }
    }

    /// Adds every bucket of this digest to `histogram`.
    public func add(to histogram: inout Histogram<UInt64>) {
        for pair in self.buckets where pair.count == 2 {
            histogram.record(pair[0], count: pair[1])
        }
    }

    /// The digest of both digests' samples (counts of equal bucket values are added).
    public static func merged(_ a: LatencyDigest, _ b: LatencyDigest) -> LatencyDigest {
        var counts: [UInt64: UInt64] = [:]
        for pair in a.buckets + b.buckets where pair.count == 2 { counts[pair[0], default: 0] += pair[1] }
        var digest = LatencyDigest()
        digest.buckets = counts.keys.sorted().map { [$0, counts[$0]!] }
        return digest
    }

    /// A histogram holding this digest's samples.
    public func histogram() -> Histogram<UInt64> {
        var h = LatencyDigest.makeHistogram()
        self.add(to: &h)
        return h
    }

    /// The number of samples.
    public var totalCount: UInt64 { self.buckets.reduce(0) { $0 + ($1.count == 2 ? $1[1] : 0) } }
}
