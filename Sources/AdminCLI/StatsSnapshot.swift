import Foundation
import WaitroomApp

/// One answer of `GET /v1/admin/events/{eventId}/stats` and when it arrived; the live view
/// computes changes and rates between two of them.
public struct StatsSnapshot: Sendable, Equatable {
    public var stats: EventStatsBody
    public var takenAt: Date

    public init(stats: EventStatsBody, takenAt: Date) {
        self.stats = stats
        self.takenAt = takenAt
    }
}
