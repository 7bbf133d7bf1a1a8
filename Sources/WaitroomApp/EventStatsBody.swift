import Inventory
import Orders
import Waitroom

/// `GET /v1/admin/events/{eventId}/stats`, as the contract spells it, plus the lottery's
/// commitments (`seedHash` before opening, `seed` after) so anyone can recompute the order.
struct EventStatsBody: Encodable {
    struct TicketClass: Encodable { var id: String; var capacity: Int; var held: Int; var sold: Int }
    struct Lottery: Encodable { var seedHash: String?; var seed: String?; var cohort: Int?; var open: Bool }

    var eventId: String
    var waiting: Int
    var preQueue: Int
    var admittedTotal: Int
    var active: Int
    var joinsPerSecond: Double
    var admissionsPerSecond: Double
    var paused: Bool
    var soldOut: Bool
    var leftTotal: Int
    var abandonedTotal: Int
    var expiredTotal: Int
    var lottery: Lottery
    var ticketClasses: [TicketClass]
    /// Orders of the event (`pending`: not finished yet; `needsAttention`: sagas that gave up).
    var orders = OrderBook.Counts()

    init(definition: EventDefinition, stats: QueueStats, stock: [EventCatalog.Stock], rates: RateSampler.Rates) {
        eventId = definition.id
        waiting = stats.waiting
        preQueue = stats.preQueue
        admittedTotal = stats.admittedTotal
        active = stats.active
        joinsPerSecond = (rates.joinsPerSecond * 10).rounded() / 10
        admissionsPerSecond = (rates.admissionsPerSecond * 10).rounded() / 10
        paused = stats.paused
        soldOut = stats.soldOut
        leftTotal = stats.leftTotal
        abandonedTotal = stats.abandonedTotal
        expiredTotal = stats.expiredTotal
        lottery = Lottery(seedHash: stats.seedHash, seed: stats.seed, cohort: stats.cohort, open: stats.isOpen)
        ticketClasses = stock.map { TicketClass(id: $0.id, capacity: $0.capacity, held: $0.held, sold: $0.sold) }
    }
}
