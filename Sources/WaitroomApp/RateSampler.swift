import Foundation

/// Joins and admissions per second for the stats endpoint: the change of the event's totals
/// since this process last sampled them (between 1 and 60 s ago), or over one second now.
actor RateSampler {
    struct Rates: Sendable { var joinsPerSecond: Double; var admissionsPerSecond: Double }
    private struct Sample { var at: Date; var joins: Int; var admitted: Int; var rates: Rates? }
    private var samples: [String: Sample] = [:]

    func sample(event: String, joins: Int, admitted: Int) -> Rates {
        let now = Date()
        defer {
            if samples.count > 10_000 { samples.removeAll() }
        }
        if let previous = samples[event] {
            let dt = now.timeIntervalSince(previous.at)
            if dt >= 1 && dt <= 60 {
                let rates = Rates(joinsPerSecond: Double(joins - previous.joins) / dt,
                                  admissionsPerSecond: Double(admitted - previous.admitted) / dt)
                samples[event] = Sample(at: now, joins: joins, admitted: admitted, rates: rates)
                return rates
            }
            if dt < 1, let rates = previous.rates { return rates }
        }
        samples[event] = Sample(at: now, joins: joins, admitted: admitted, rates: samples[event]?.rates)
        return samples[event]?.rates ?? Rates(joinsPerSecond: 0, admissionsPerSecond: 0)
    }
}
