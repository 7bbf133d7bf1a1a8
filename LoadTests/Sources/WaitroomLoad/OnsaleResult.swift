import LoadKit

/// Everything an on-sale run measured, as written to the JSON file.
struct OnsaleResult: Codable {
    struct Step: Codable {
        var step: String
        var label: String
        var count: UInt64
        var p50Ms: Double
        var p99Ms: Double
        var maxMs: Double
    }

    var startedAt: String
    var event: String
    var users: Int
    var tickets: Int
    var clientProcesses: Int
    var configuredRate: Double
    var durationSeconds: Double
    /// When admission began (the resume, or the first admission seen), seconds since the start.
    var admissionStartSeconds: Double?
    /// When the server first reported the event sold out, seconds since the start.
    var soldOutSeconds: Double?
    var serverAccuracy: RateAccuracy?
    var clientAccuracy: RateAccuracy?
    var tolerancePercent: Double
    var steps: [Step]
    var totals: OnsaleStats
    var finalStats: EventStats?
    var checks: [OversellCheck.Result]
    var checkOutput: String?
    var serverSamples: [ServerSample]

    var passed: Bool { self.checks.allSatisfy(\.passed) }

    /// Time to sell out from the first admission.
    var soldOutAfterAdmission: Double? {
        guard let s = self.soldOutSeconds, let a = self.admissionStartSeconds else { return nil }
        return s - a
    }
}
