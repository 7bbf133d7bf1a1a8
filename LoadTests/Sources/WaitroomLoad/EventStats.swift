import LoadKit

/// `GET /v1/admin/events/{eventId}/stats`, the fields an on-sale run reads.
struct EventStats: Codable, Sendable {
    struct Orders: Codable, Sendable {
        var pending: Int
        var completed: Int
        var cancelled: Int
    }

    var waiting: Int
    var admittedTotal: Int
    /// When the server reached `admittedTotal` (RFC 3339, ms); older servers leave it out.
    var lastAdmissionAt: String?
    var active: Int
    var paused: Bool?
    var soldOut: Bool?
    var ticketClasses: [OversellCheck.ClassStock]
    var orders: Orders

    var capacity: Int { self.ticketClasses.reduce(0) { $0 + $1.capacity } }
    var sold: Int { self.ticketClasses.reduce(0) { $0 + $1.sold } }
    var held: Int { self.ticketClasses.reduce(0) { $0 + $1.held } }
}

/// One reading of the server's stats during a run (seconds since the run's epoch), with the
/// clients' count of users waiting on a stream at that moment.
struct ServerSample: Codable, Sendable {
    var time: Double
    var clientWaiting: Int
    var waiting: Int
    var admittedTotal: Int
    /// The server's time of `admittedTotal` (seconds since the run's epoch), when it gave one.
    var admittedAt: Double?
    var active: Int
    var sold: Int
    var held: Int
    var soldOut: Bool
}
