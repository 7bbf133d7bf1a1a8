import Foundation
import Logging
import Postgres

/// Events and their ticket classes in PostgreSQL, the source of truth for what is on sale.
public struct EventCatalog: Sendable {
    public enum UpsertOutcome: Sendable, Equatable { case created, updated }

    private let database: PostgresClient

    public init(database: PostgresClient) {
        self.database = database
    }

    /// Creates the event or updates it, with its classes, in one transaction. Capacity may grow;
    /// shrinking a class below what is already held or sold fails with `capacityBelowCommitted`
    /// and changes nothing.
    public func upsert(_ event: EventDefinition) async throws -> UpsertOutcome {
        try event.validate()
        do {
            return try await database.withTransaction { connection in
                let rows = try await connection.query("""
                    INSERT INTO events (id, name, opens_at, rate_per_second, max_active, session_seconds)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, opens_at = EXCLUDED.opens_at,
                        rate_per_second = EXCLUDED.rate_per_second, max_active = EXCLUDED.max_active,
                        session_seconds = EXCLUDED.session_seconds, updated_at = now()
                    RETURNING (xmax = 0) AS inserted
                    """, [
                        .string(event.id), .string(event.name),
                        event.opensAt.map { PostgresValue.date($0) } ?? .null,
                        .double(event.admission.ratePerSecond), .int(Int64(event.admission.maxActive)),
                        .int(Int64(event.admission.sessionSeconds)),
                    ])
                let inserted = try rows.first?.decode(Bool.self, at: 0) ?? false
                for c in event.ticketClasses {
                    _ = try await connection.query("""
                        INSERT INTO ticket_classes (event_id, id, name, price_cents, capacity, seated)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        ON CONFLICT (event_id, id) DO UPDATE SET name = EXCLUDED.name,
                            price_cents = EXCLUDED.price_cents, capacity = EXCLUDED.capacity, seated = EXCLUDED.seated
                        """, [
                            .string(event.id), .string(c.id), .string(c.name),
                            .int(Int64(c.priceCents)), .int(Int64(c.capacity)), .bool(c.seating != nil),
                        ])
                    try await Self.layOutSeats(of: c, eventID: event.id, on: connection)
                }
                return inserted ? .created : .updated
            }
        } catch let error as PostgresError where error.isCheckViolation {
            throw InventoryError(.capacityBelowCommitted,
                                 "a ticket class cannot shrink below the tickets already held or sold")
        } catch let error as PostgresError where error.sqlState == "23503" && error.table == "reservation_seats" {
            throw InventoryError(.capacityBelowCommitted, "a seat that has been reserved cannot be removed")
        }
    }

    /// Makes the class's seats exactly its layout: new seats are added (free), seats no longer
    /// in it are removed, which fails for a seat that was ever reserved. Seat order is row by
    /// row, so holds taken "from a random start" stay mostly side by side.
    private static func layOutSeats(of c: EventDefinition.TicketClass, eventID: String,
                                    on connection: PostgresConnection) async throws {
        let rows = c.seating ?? []
        // Row labels are validated `[A-Za-z0-9]{1,8}`, so a comma-joined list is unambiguous.
        let labels = rows.map(\.row).joined(separator: ",")
        let counts = rows.map { String($0.seats) }.joined(separator: ",")
        _ = try await connection.query("""
            DELETE FROM seats s
            WHERE s.event_id = $1 AND s.ticket_class_id = $2 AND NOT EXISTS (
                SELECT 1 FROM unnest(string_to_array($3, ','), string_to_array($4, ',')::integer[]) AS r(label, n)
                WHERE s.id LIKE r.label || '-%' AND split_part(s.id, '-', 2)::integer BETWEEN 1 AND r.n
                  AND split_part(s.id, '-', 1) = r.label)
            """, [.string(eventID), .string(c.id), .string(labels), .string(counts)])
        guard !rows.isEmpty else { return }
        _ = try await connection.query("""
            INSERT INTO seats (event_id, ticket_class_id, id, seat_order)
            SELECT $1, $2, r.label || '-' || g, (r.ord * 10000 + g)::integer
            FROM unnest(string_to_array($3, ','), string_to_array($4, ',')::integer[]) WITH ORDINALITY AS r(label, n, ord),
                 generate_series(1, r.n) AS g
            ON CONFLICT (event_id, ticket_class_id, id) DO UPDATE SET seat_order = EXCLUDED.seat_order
            """, [.string(eventID), .string(c.id), .string(labels), .string(counts)])
    }

    /// The event with its classes, or `nil`.
    public func event(id: String) async throws -> EventDefinition? {
        let events = try await database.query("""
            SELECT name, opens_at, rate_per_second, max_active, session_seconds FROM events WHERE id = $1
            """, [.string(id)])
        guard let row = events.first else { return nil }
        let classes = try await database.query("""
            SELECT id, name, capacity, price_cents, seated,
                (SELECT string_agg(label || ':' || n, ',' ORDER BY first) FROM (
                    SELECT split_part(s.id, '-', 1) AS label, count(*) AS n, min(s.seat_order) AS first
                    FROM seats s WHERE s.event_id = tc.event_id AND s.ticket_class_id = tc.id GROUP BY 1) r)
            FROM ticket_classes tc WHERE event_id = $1 ORDER BY id
            """, [.string(id)])
        return EventDefinition(
            id: id, name: try row.decode(String.self, at: 0), opensAt: try row.decode(Date?.self, at: 1),
            ticketClasses: try classes.map {
                EventDefinition.TicketClass(id: try $0.decode(String.self, at: 0), name: try $0.decode(String.self, at: 1),
                                            capacity: try $0.decode(Int.self, at: 2), priceCents: try $0.decode(Int.self, at: 3),
                                            seating: try $0.decode(Bool.self, at: 4) ? Self.seating(try $0.decode(String?.self, at: 5)) : nil)
            },
            admission: .init(ratePerSecond: try row.decode(Double.self, at: 2), maxActive: try row.decode(Int.self, at: 3),
                             sessionSeconds: try row.decode(Int.self, at: 4)))
    }

    private static func seating(_ text: String?) -> [EventDefinition.SeatRow] {
        (text ?? "").split(separator: ",").compactMap { part in
            let pieces = part.split(separator: ":")
            guard pieces.count == 2, let n = Int(pieces[1]) else { return nil }
            return EventDefinition.SeatRow(row: String(pieces[0]), seats: n)
        }
    }

    /// Stock of one ticket class.
    public struct Stock: Sendable, Equatable {
        public var id: String
        public var capacity: Int
        public var held: Int
        public var sold: Int
    }

    /// The stock of every class of the event, by class id.
    public func stock(eventID: String) async throws -> [Stock] {
        try await database.query(
            "SELECT id, capacity, held, sold FROM ticket_classes WHERE event_id = $1 ORDER BY id", [.string(eventID)]
        ).map {
            Stock(id: try $0.decode(String.self, at: 0), capacity: try $0.decode(Int.self, at: 1),
                  held: try $0.decode(Int.self, at: 2), sold: try $0.decode(Int.self, at: 3))
        }
    }

    /// Records new admission settings of an event (the queue applies them; this keeps the
    /// source of truth in step). Unknown event: `eventNotFound`.
    public func updateAdmission(eventID: String, ratePerSecond: Double, maxActive: Int, sessionSeconds: Int, paused: Bool) async throws {
        let rows = try await database.query("""
            UPDATE events SET rate_per_second = $2, max_active = $3, session_seconds = $4, paused = $5, updated_at = now()
            WHERE id = $1
            """, [.string(eventID), .double(ratePerSecond), .int(Int64(maxActive)), .int(Int64(sessionSeconds)), .bool(paused)])
        if rows.affectedRows == 0 { throw InventoryError(.eventNotFound, "no event '\(eventID)'") }
    }

    /// Whether the event is paused (kept across redefinitions of the event).
    public func isPaused(eventID: String) async throws -> Bool {
        try await database.query("SELECT paused FROM events WHERE id = $1", [.string(eventID)]).first?.decode(Bool.self, at: 0) ?? false
    }
}
