/// The outcome of running all readiness checks once.
public struct ReadinessReport: Sendable {
    /// How one check ended.
    public enum Outcome: Sendable, Equatable {
        /// It returned in time.
        case ok
        /// It threw (the error's description, for logs only).
        case failed(String)
        /// It did not finish within its timeout.
        case timedOut

        /// The word reported to clients: `ok`, `down` or `timeout`.
        public var word: String {
            switch self {
            case .ok: return "ok"
            case .failed: return "down"
            case .timedOut: return "timeout"
            }
        }
    }

    /// `(name, outcome)` in the order the checks were given.
    public var results: [(name: String, outcome: Outcome)]

    /// Whether every check passed.
    public var isReady: Bool { self.results.allSatisfy { $0.outcome == .ok } }

    /// The names of the checks that did not pass.
    public var failing: [String] { self.results.filter { $0.outcome != .ok }.map(\.name) }

    /// "redis is down", "redis and postgres are down", ...
    public var failureMessage: String {
        let names = self.failing
        switch names.count {
        case 0: return "all dependencies are up"
        case 1: return "\(names[0]) is down"
        default: return "\(names.dropLast().joined(separator: ", ")) and \(names.last!) are down"
        }
    }
}
