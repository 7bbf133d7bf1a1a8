import Foundation

/// An event as ops define it (`PUT /v1/admin/events/{eventId}`): its ticket classes and its
/// admission settings. Validated on construction from untrusted input.
public struct EventDefinition: Sendable, Equatable, Codable {
    /// A row of an assigned-seating class: seats `<row>-1` … `<row>-<seats>`.
    public struct SeatRow: Sendable, Equatable, Codable {
        public var row: String
        public var seats: Int

        public init(row: String, seats: Int) {
            self.row = row
            self.seats = seats
        }
    }

    public struct TicketClass: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var capacity: Int
        public var priceCents: Int
        /// Assigned seating: the class is these seats (their number is its capacity); `nil` for
        /// general admission.
        public var seating: [SeatRow]?

        public init(id: String, name: String, capacity: Int, priceCents: Int, seating: [SeatRow]? = nil) {
            self.id = id
            self.name = name
            self.capacity = capacity
            self.priceCents = priceCents
            self.seating = seating
        }

        /// Seat ids in seat order (`A-1`, `A-2`, …, `B-1`, …); empty for general admission.
        public var seatIDs: [String] {
            (seating ?? []).flatMap { row in (1...max(1, row.seats)).map { "\(row.row)-\($0)" } }
        }
    }

    public struct Admission: Sendable, Equatable, Codable {
        /// Places admitted per second.
        public var ratePerSecond: Double
        /// Admitted users that may be active at once.
        public var maxActive: Int
        /// How long an admission token stays valid.
        public var sessionSeconds: Int

        public init(ratePerSecond: Double, maxActive: Int, sessionSeconds: Int) {
            self.ratePerSecond = ratePerSecond
            self.maxActive = maxActive
            self.sessionSeconds = sessionSeconds
        }
    }

    public var id: String
    public var name: String
    public var opensAt: Date?
    public var ticketClasses: [TicketClass]
    public var admission: Admission

    public init(id: String, name: String, opensAt: Date? = nil, ticketClasses: [TicketClass], admission: Admission) {
        self.id = id
        self.name = name
        self.opensAt = opensAt
        self.ticketClasses = ticketClasses
        self.admission = admission
    }

    /// The contract's id rule: `[A-Za-z0-9_-]{1,64}`.
    public static func isValidID(_ id: some StringProtocol) -> Bool {
        let utf8 = id.utf8
        guard (1...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }

    /// A display name: 1 to 200 bytes, no control characters (PostgreSQL text cannot hold NUL,
    /// and the page shows names as they are).
    static func isValidName(_ name: String) -> Bool {
        (1...200).contains(name.utf8.count) && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// The times `opensAt` may take (PostgreSQL's timestamps and the page's clock handle these).
    static let opensAtRange = Date(timeIntervalSince1970: 0)...Date(timeIntervalSince1970: 253_402_300_799)

    /// Every rule an event must satisfy; throws the first one broken, naming the field.
    public func validate() throws(InventoryError) {
        guard Self.isValidID(id) else { throw InventoryError(.invalidEvent, "id must match [A-Za-z0-9_-]{1,64}") }
        guard Self.isValidName(name) else {
            throw InventoryError(.invalidEvent, "name must have 1 to 200 bytes and no control characters")
        }
        if let opensAt, !Self.opensAtRange.contains(opensAt) {
            throw InventoryError(.invalidEvent, "opensAt must be between 1970-01-01 and 9999-12-31")
        }
        guard !ticketClasses.isEmpty, ticketClasses.count <= 100 else {
            throw InventoryError(.invalidEvent, "ticketClasses must have 1 to 100 entries")
        }
        var seen = Set<String>()
        for (i, c) in ticketClasses.enumerated() {
            guard Self.isValidID(c.id) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].id must match [A-Za-z0-9_-]{1,64}")
            }
            guard seen.insert(c.id).inserted else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].id '\(c.id)' is repeated")
            }
            guard Self.isValidName(c.name) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].name must have 1 to 200 bytes and no control characters")
            }
            guard (0...10_000_000).contains(c.capacity) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].capacity must be in 0...10000000")
            }
            guard (0...100_000_000_00).contains(c.priceCents) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].priceCents must be in 0...10000000000")
            }
            if let seating = c.seating {
                try Self.validateSeating(seating, capacity: c.capacity, field: "ticketClasses[\(i)]")
            }
        }
        guard admission.ratePerSecond.isFinite, admission.ratePerSecond > 0, admission.ratePerSecond <= 1_000_000 else {
            throw InventoryError(.invalidEvent, "admission.ratePerSecond must be in (0, 1000000]")
        }
        guard (1...10_000_000).contains(admission.maxActive) else {
            throw InventoryError(.invalidEvent, "admission.maxActive must be in 1...10000000")
        }
        guard (10...86_400).contains(admission.sessionSeconds) else {
            throw InventoryError(.invalidEvent, "admission.sessionSeconds must be in 10...86400")
        }
    }

    private static func validateSeating(_ rows: [SeatRow], capacity: Int, field: String) throws(InventoryError) {
        guard (1...1_000).contains(rows.count) else {
            throw InventoryError(.invalidEvent, "\(field).seating must have 1 to 1000 rows")
        }
        var labels = Set<String>()
        for (j, r) in rows.enumerated() {
            let ok = (1...8).contains(r.row.utf8.count) && r.row.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            }
            guard ok else { throw InventoryError(.invalidEvent, "\(field).seating[\(j)].row must match [A-Za-z0-9]{1,8}") }
            guard labels.insert(r.row).inserted else {
                throw InventoryError(.invalidEvent, "\(field).seating[\(j)].row '\(r.row)' is repeated")
            }
            guard (1...1_000).contains(r.seats) else {
                throw InventoryError(.invalidEvent, "\(field).seating[\(j)].seats must be in 1...1000")
            }
        }
        let total = rows.reduce(0) { $0 + $1.seats }
        guard total == capacity else {
            throw InventoryError(.invalidEvent, "\(field).capacity must equal its number of seats (\(total))")
        }
    }

    /// The event that `make run` serves.
    public static let demo = EventDefinition(
        id: "demo", name: "Waitroom demo on-sale",
        ticketClasses: [
            TicketClass(id: "ga", name: "General admission", capacity: 5_000, priceCents: 4_500),
            TicketClass(id: "vip", name: "VIP", capacity: 200, priceCents: 19_900,
                        seating: ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"].map { SeatRow(row: $0, seats: 20) }),
        ],
        admission: Admission(ratePerSecond: 5, maxActive: 200, sessionSeconds: 600))
}
