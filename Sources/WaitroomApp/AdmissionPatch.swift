import Edge
import Waitroom

/// `PATCH /v1/admin/events/{eventId}/admission`: any of the four settings. The server decodes
/// it; `waitroomd admin` builds it and checks it with the same rules before sending.
public struct AdmissionPatch: Codable, Sendable, Equatable {
    public var ratePerSecond: Double?
    public var maxActive: Int?
    public var sessionSeconds: Int?
    public var paused: Bool?

    public init(ratePerSecond: Double? = nil, maxActive: Int? = nil, sessionSeconds: Int? = nil, paused: Bool? = nil) {
        self.ratePerSecond = ratePerSecond
        self.maxActive = maxActive
        self.sessionSeconds = sessionSeconds
        self.paused = paused
    }

    /// Whether the patch changes nothing.
    public var isEmpty: Bool { ratePerSecond == nil && maxActive == nil && sessionSeconds == nil && paused == nil }

    /// Throws `422 invalid_admission` naming the first setting out of range.
    public func validate() throws(HTTPError) {
        if let ratePerSecond, !(ratePerSecond.isFinite && ratePerSecond > 0 && ratePerSecond <= 1_000_000) {
            throw HTTPError(.unprocessableEntity, code: "invalid_admission", message: "ratePerSecond must be in (0, 1000000]")
        }
        if let maxActive, !(1...10_000_000).contains(maxActive) {
            throw HTTPError(.unprocessableEntity, code: "invalid_admission", message: "maxActive must be in 1...10000000")
        }
        if let sessionSeconds, !(10...86_400).contains(sessionSeconds) {
            throw HTTPError(.unprocessableEntity, code: "invalid_admission", message: "sessionSeconds must be in 10...86400")
        }
    }

    func apply(to settings: inout QueueSettings) throws(HTTPError) {
        try validate()
        if let ratePerSecond { settings.ratePerSecond = ratePerSecond }
        if let maxActive { settings.maxActive = maxActive }
        if let sessionSeconds { settings.sessionSeconds = sessionSeconds }
        if let paused { settings.paused = paused }
    }

    /// The settings in force after a patch.
    public struct Response: Codable, Sendable, Equatable {
        public var ratePerSecond: Double
        public var maxActive: Int
        public var sessionSeconds: Int
        public var paused: Bool

        init(_ s: QueueSettings) {
            ratePerSecond = s.ratePerSecond
            maxActive = s.maxActive
            sessionSeconds = s.sessionSeconds
            paused = s.paused
        }
    }
}
