import Foundation
import Postgres

/// Reads of orders: one order as its buyer sees it, and counts per event.
public struct OrderBook: Sendable {
    public struct Ticket: Codable, Sendable, Equatable {
        public var code: String
        public var ticketClassId: String
        public var seat: String?
    }

    /// `GET /v1/orders/{orderId}`.
    public struct View: Codable, Sendable, Equatable {
        public var orderId: String
        public var status: String
        public var reservationId: String
        public var tickets: [Ticket]
        public var failureReason: String?
        public var refund: String?
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var pending = 0
        public var completed = 0
        public var cancelled = 0
        public var refunded = 0
        public var needsAttention = 0
        public init() {}
    }

    private let database: PostgresClient

    public init(database: PostgresClient) {
        self.database = database
    }

    /// The order if it belongs to the admission `holder` of `eventID`.
    public func order(id: String, eventID: String, holder: Int64) async throws -> View? {
        let rows = try await database.query("""
            SELECT jsonb_strip_nulls(jsonb_build_object(
                'orderId', o.id, 'status', o.status, 'reservationId', o.reservation_id,
                'failureReason', o.failure_reason, 'refund', o.refund,
                'tickets', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                         'code', t.code, 'ticketClassId', t.ticket_class_id, 'seat', t.seat_id))
                                         ORDER BY t.ticket_class_id, t.seat_id, t.code)
                                     FROM order_tickets t WHERE t.order_id = o.id), '[]'::jsonb)))::text
            FROM orders o WHERE o.id = $1 AND o.event_id = $2 AND o.holder = $3
            """, [.string(id), .string(eventID), .int(holder)])
        guard let text = try rows.first?.decode(String.self, at: 0) else { return nil }
        return try JSONDecoder().decode(View.self, from: Data(text.utf8))
    }

    /// Orders of an event by outcome (`pending` is everything not finished yet).
    public func counts(eventID: String) async throws -> Counts {
        let rows = try await database.query("""
            SELECT count(*) FILTER (WHERE status IN ('pending', 'awaiting_payment', 'paid')),
                   count(*) FILTER (WHERE status = 'completed'),
                   count(*) FILTER (WHERE status = 'cancelled'),
                   count(*) FILTER (WHERE status = 'refunded'),
                   count(*) FILTER (WHERE needs_attention)
            FROM orders WHERE event_id = $1
            """, [.string(eventID)])
        var counts = Counts()
        if let r = rows.first {
            counts.pending = try r.decode(Int.self, at: 0)
            counts.completed = try r.decode(Int.self, at: 1)
            counts.cancelled = try r.decode(Int.self, at: 2)
            counts.refunded = try r.decode(Int.self, at: 3)
            counts.needsAttention = try r.decode(Int.self, at: 4)
        }
        return counts
    }
}
