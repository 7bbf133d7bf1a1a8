/// One operation of a combined inventory transaction, as `inventory_apply` reads it (JSON).
struct InventoryOperation: Sendable, Encodable, Equatable {
    struct Item: Sendable, Encodable, Equatable {
        var c: String
        var q: Int
    }

    struct Payment: Sendable, Encodable, Equatable {
        var method: String
        var simulate: String?
    }

    enum Kind: String, Sendable, Encodable, CaseIterable { case reserve, release, confirm }

    var op: Kind
    /// The admission the operation is made under.
    var holder: Int64
    /// Idempotency key and the hash of the request it was first used with.
    var key: String?
    var hash: String?
    /// `reserve`: the new reservation's id and its items.
    var id: String?
    var items: [Item]?
    /// `release`, `confirm`: the reservation.
    var reservation: String?
    /// `confirm`: the new order's id and the payment request.
    var orderId: String?
    var payment: Payment?
}
