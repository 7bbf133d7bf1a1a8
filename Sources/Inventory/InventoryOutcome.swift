/// What one reserve, release or confirm came to: the HTTP status it answers with, and either
/// the body or an error code of the contract. Also what an idempotency key replays.
public struct InventoryOutcome: Sendable, Equatable, Codable {
    /// The body of a successful outcome: a hold (`reservationId`, `status`, `expiresAt`,
    /// `items`) or an order request (`orderId`, `status`).
    public struct Body: Sendable, Equatable, Codable {
        public var reservationId: String?
        public var orderId: String?
        public var status: String?
        public var expiresAt: String?
        public var items: [ReservedItem]?
    }

    /// A reserved line, with its seats for an assigned-seating class.
    public struct ReservedItem: Sendable, Equatable, Codable {
        public var ticketClassId: String
        public var quantity: Int
        public var seats: [String]?
    }

    public var status: Int
    public var error: String?
    public var message: String?
    public var body: Body?
    /// Whether this is the stored first outcome of the request's idempotency key.
    public var replayed: Bool?
    /// How long the batch that carried this operation waited for its locks, and its size (not
    /// stored with the key: they describe this run).
    public var lockWaitMicros: Int64?
    public var batchSize: Int?
    /// Whether every class the batch locked was left with nothing held and nothing to sell: only
    /// then can the event be sold out, so only then is it worth asking the database.
    public var lockedClassesExhausted: Bool?

    public init(status: Int, error: String? = nil, message: String? = nil, body: Body? = nil) {
        self.status = status
        self.error = error
        self.message = message
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}
