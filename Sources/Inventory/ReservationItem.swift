/// One line of a reservation request: so many tickets of one class.
public struct ReservationItem: Sendable, Equatable, Codable {
    public var ticketClassId: String
    public var quantity: Int

    public init(ticketClassId: String, quantity: Int) {
        self.ticketClassId = ticketClassId
        self.quantity = quantity
    }

    /// The items of a request, checked and put in lock order (by class id). Each class at most
    /// once, each quantity at least 1, no more than `limit` tickets in all; a broken rule is
    /// `invalidItems` naming the item.
    public static func normalized(_ items: [ReservationItem], limit: Int) throws(InventoryError) -> [ReservationItem] {
        guard !items.isEmpty else { throw InventoryError(.invalidItems, "items must not be empty") }
        guard items.count <= 100 else { throw InventoryError(.invalidItems, "at most 100 items") }
        var seen = Set<String>()
        var total = 0
        for (i, item) in items.enumerated() {
            guard EventDefinition.isValidID(item.ticketClassId) else {
                throw InventoryError(.invalidItems, "items[\(i)].ticketClassId must match [A-Za-z0-9_-]{1,64}")
            }
            guard seen.insert(item.ticketClassId).inserted else {
                throw InventoryError(.invalidItems, "items[\(i)].ticketClassId '\(item.ticketClassId)' is repeated")
            }
            guard item.quantity >= 1 else { throw InventoryError(.invalidItems, "items[\(i)].quantity must be at least 1") }
            total += min(item.quantity, Int.max / 200)
        }
        guard total <= limit else {
            throw InventoryError(.invalidItems, "at most \(limit) tickets per reservation")
        }
        return items.sorted { $0.ticketClassId < $1.ticketClassId }
    }
}
