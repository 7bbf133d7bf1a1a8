/// An error of the Inventory domain, mapped to the API's error codes at the edge.
public struct InventoryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public static let invalidEvent = Code(name: "invalid_event")
        public static let eventNotFound = Code(name: "event_not_found")
        public static let capacityBelowCommitted = Code(name: "capacity_below_committed")
        public static let invalidItems = Code(name: "invalid_items")
        public static let invalidPayment = Code(name: "invalid_payment")
        public static let reservationNotFound = Code(name: "reservation_not_found")
        /// The database answered something the Inventory cannot read: a bug, never the client's fault.
        public static let unexpectedReply = Code(name: "unexpected_reply")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
