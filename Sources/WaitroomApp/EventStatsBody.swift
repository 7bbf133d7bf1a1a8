import Inventory
import Orders
import Waitroom

/// `GET /v1/admin/events/{eventId}/stats`, as the contract spells it, plus the lottery's
/// commitments (`seedHash` before opening, `seed` after) so anyone can recompute the order, and
/// the admission settings in force. `waitroomd admin stats` decodes it.
public struct EventStatsBody: Codable, Sendable, Equatable {
    public struct TicketClass: Codable, Sendable, Equatable {
        public var id: String; public var capacity: Int; public var held: Int; public var sold: Int
    }
    public struct Lottery: Codable, Sendable, Equatable {
        public var seedHash: String?; public var seed: String?; public var cohort: Int?; public var open: Bool
    }

    public var eventId: String
    public var waiting: Int
    public var preQueue: Int
    public var admittedTotal: Int
    /// When the tick that brought `admittedTotal` to its value ran (the admitter's Redis clock,
    /// RFC 3339 with milliseconds); absent before the first admission. The pair is exact, so a
    /// poller measures the admission rate without its own request latency in it.
    public var lastAdmissionAt: String?
    public var active: Int
    public var joinsPerSecond: Double
    public var admissionsPerSecond: Double
    public var paused: Bool
    public var soldOut: Bool
    public var leftTotal: Int
    public var abandonedTotal: Int
    public var expiredTotal: Int
    public var lottery: Lottery
    /// The admission settings in force (`ratePerSecond`, `maxActive`, `sessionSeconds`).
    public var admission: EventDefinition.Admission
    public var ticketClasses: [TicketClass]
    /// Orders of the event (`pending`: not finished yet; `needsAttention`: sagas that gave up).
    public var orders = OrderBook.Counts()

    init(definition: EventDefinition, stats: QueueStats, stock: [EventCatalog.Stock], rates: RateSampler.Rates) {
        eventId = definition.id
        waiting = stats.waiting
        preQueue = stats.preQueue
        admittedTotal = stats.admittedTotal
        lastAdmissionAt = stats.lastTickMilliseconds > 0 ? RFC3339.string(milliseconds: stats.lastTickMilliseconds, fraction: true) : nil
        active = stats.active
        joinsPerSecond = (rates.joinsPerSecond * 10).rounded() / 10
        admissionsPerSecond = (rates.admissionsPerSecond * 10).rounded() / 10
        paused = stats.paused
        soldOut = stats.soldOut
        leftTotal = stats.leftTotal
        abandonedTotal = stats.abandonedTotal
        expiredTotal = stats.expiredTotal
        lottery = Lottery(seedHash: stats.seedHash, seed: stats.seed, cohort: stats.cohort, open: stats.isOpen)
        admission = definition.admission
        ticketClasses = stock.map { TicketClass(id: $0.id, capacity: $0.capacity, held: $0.held, sold: $0.sold) }
    }
}
