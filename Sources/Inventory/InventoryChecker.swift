import Postgres

/// The Inventory's invariants, checked against the database: for every class `held` is the sum
/// of its live holds, `sold` the sum of its confirmed reservations, `held + sold <= capacity`;
/// a seated class's seats agree with those counters; no seat is in two live reservations; every
/// confirmed reservation has its order request.
public struct InventoryChecker: Sendable {
    public struct ClassReport: Sendable, Equatable {
        public var eventID: String
        public var classID: String
        public var capacity: Int
        public var held: Int
        public var sold: Int
        public var heldByHolds: Int
        public var soldByConfirmed: Int
    }

    public struct Report: Sendable {
        public var classes: [ClassReport]
        /// Every broken rule, in words; empty when all hold.
        public var violations: [String]
        public var isConsistent: Bool { violations.isEmpty }
    }

    private let database: PostgresClient

    public init(database: PostgresClient) {
        self.database = database
    }

    /// Checks every event, or only `eventID`. Run it in one snapshot so that live traffic cannot
    /// make a consistent database look broken.
    public func check(eventID: String? = nil) async throws -> Report {
        try await database.withTransaction(isolation: .repeatableRead) { connection in
            let event: PostgresValue = eventID.map { .string($0) } ?? .null
            let classes = try await connection.query("""
                SELECT tc.event_id, tc.id, tc.capacity, tc.held, tc.sold,
                    coalesce((SELECT sum(ri.quantity) FROM reservation_items ri JOIN reservations r ON r.id = ri.reservation_id
                              WHERE ri.event_id = tc.event_id AND ri.ticket_class_id = tc.id AND r.status = 'held'), 0),
                    coalesce((SELECT sum(ri.quantity) FROM reservation_items ri JOIN reservations r ON r.id = ri.reservation_id
                              WHERE ri.event_id = tc.event_id AND ri.ticket_class_id = tc.id AND r.status = 'confirmed'), 0)
                FROM ticket_classes tc WHERE $1::text IS NULL OR tc.event_id = $1 ORDER BY 1, 2
                """, [event]).map {
                ClassReport(eventID: try $0.decode(String.self, at: 0), classID: try $0.decode(String.self, at: 1),
                            capacity: try $0.decode(Int.self, at: 2), held: try $0.decode(Int.self, at: 3),
                            sold: try $0.decode(Int.self, at: 4), heldByHolds: try $0.decode(Int.self, at: 5),
                            soldByConfirmed: try $0.decode(Int.self, at: 6))
            }
            var violations: [String] = []
            for c in classes {
                let name = "\(c.eventID)/\(c.classID)"
                if c.held != c.heldByHolds { violations.append("\(name): held is \(c.held) but live holds add up to \(c.heldByHolds)") }
                if c.sold != c.soldByConfirmed {
                    violations.append("\(name): sold is \(c.sold) but confirmed reservations add up to \(c.soldByConfirmed)")
                }
                if c.held + c.sold > c.capacity || c.held < 0 || c.sold < 0 {
                    violations.append("\(name): held \(c.held) + sold \(c.sold) against capacity \(c.capacity)")
                }
            }
            let doubleSeats = try await connection.query("""
                SELECT event_id || '/' || ticket_class_id || '/' || seat_id, count(*) FROM reservation_seats
                WHERE live AND ($1::text IS NULL OR event_id = $1) GROUP BY event_id, ticket_class_id, seat_id HAVING count(*) > 1
                """, [event])
            for row in doubleSeats {
                violations.append("seat \(try row.decode(String.self, at: 0)) is in \(try row.decode(Int.self, at: 1)) live reservations")
            }
            let seatCounts = try await connection.query("""
                SELECT tc.event_id || '/' || tc.id, tc.held, tc.sold,
                    count(*) FILTER (WHERE s.state = 'held'), count(*) FILTER (WHERE s.state = 'sold'), count(s.id), tc.capacity,
                    (SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
                     WHERE rs.event_id = tc.event_id AND rs.ticket_class_id = tc.id AND rs.live AND r.status IN ('held', 'confirmed'))
                FROM ticket_classes tc LEFT JOIN seats s ON s.event_id = tc.event_id AND s.ticket_class_id = tc.id
                WHERE tc.seated AND ($1::text IS NULL OR tc.event_id = $1) GROUP BY tc.event_id, tc.id
                """, [event])
            for row in seatCounts {
                let name = try row.decode(String.self, at: 0)
                let (held, sold) = (try row.decode(Int.self, at: 1), try row.decode(Int.self, at: 2))
                let (seatsHeld, seatsSold) = (try row.decode(Int.self, at: 3), try row.decode(Int.self, at: 4))
                let (seats, capacity, live) = (try row.decode(Int.self, at: 5), try row.decode(Int.self, at: 6), try row.decode(Int.self, at: 7))
                if seatsHeld != held || seatsSold != sold {
                    violations.append("\(name): seats held/sold \(seatsHeld)/\(seatsSold) but counters \(held)/\(sold)")
                }
                if seats != capacity { violations.append("\(name): \(seats) seats but capacity \(capacity)") }
                if live != held + sold { violations.append("\(name): \(live) live seat holds but held + sold is \(held + sold)") }
            }
            let orphans = try await connection.query("""
                SELECT count(*) FROM reservations r WHERE r.status = 'confirmed' AND ($1::text IS NULL OR r.event_id = $1)
                AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.reservation_id = r.id)
                """, [event])
            let orphanCount = try orphans.first?.decode(Int.self, at: 0) ?? 0
            if orphanCount > 0 { violations.append("\(orphanCount) confirmed reservations have no order request") }
            return Report(classes: classes, violations: violations)
        }
    }
}
