/// An error of the Waitroom domain: a ``Code`` to branch on and a message (the SSWG shape).
///
/// Redis being down or slow is not wrapped: those calls throw `RedisError` as it is, which the
/// app maps to `503` in one place.
public struct WaitroomError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The snake_case name, as the API spells its error codes.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The event has no queue configuration (→ `404 event_not_found`).
        public static let notConfigured = Code("event_not_found")
        /// The event can admit no one more (→ `410 sold_out`).
        public static let soldOut = Code("sold_out")
        /// No place with that sequence number (→ `404 ticket_not_found`).
        public static let placeNotFound = Code("ticket_not_found")
        /// A setting out of range (→ `422`).
        public static let invalidSettings = Code("invalid_settings")
        /// A script answered something it should not (a bug; → `500`).
        public static let unexpectedReply = Code("internal_error")

        public var description: String { name }
    }

    /// The kind of error.
    public let code: Code
    /// A human-readable explanation.
    public let message: String

    /// Makes an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "WaitroomError(\(code)): \(message)" }
}
