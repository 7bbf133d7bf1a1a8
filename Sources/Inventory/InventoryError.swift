/// An error of the Inventory domain, mapped to the API's error codes at the edge.
public struct InventoryError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public static let invalidEvent = Code(name: "invalid_event")
        public static let eventNotFound = Code(name: "event_not_found")
        public static let capacityBelowCommitted = Code(name: "capacity_below_committed")
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
