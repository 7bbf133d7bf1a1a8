import Foundation

/// An event as ops define it (`PUT /v1/admin/events/{eventId}`): its ticket classes and its
/// admission settings. Validated on construction from untrusted input.
public struct EventDefinition: Sendable, Equatable, Codable {
    public struct TicketClass: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var capacity: Int
        public var priceCents: Int

        public init(id: String, name: String, capacity: Int, priceCents: Int) {
            self.id = id
            self.name = name
            self.capacity = capacity
            self.priceCents = priceCents
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

    /// Every rule an event must satisfy; throws the first one broken, naming the field.
    public func validate() throws(InventoryError) {
        guard Self.isValidID(id) else { throw InventoryError(.invalidEvent, "id must match [A-Za-z0-9_-]{1,64}") }
        guard !name.isEmpty, name.utf8.count <= 200 else {
            throw InventoryError(.invalidEvent, "name must have 1 to 200 bytes")
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
            guard !c.name.isEmpty, c.name.utf8.count <= 200 else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].name must have 1 to 200 bytes")
            }
            guard (0...10_000_000).contains(c.capacity) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].capacity must be in 0...10000000")
            }
            guard (0...100_000_000_00).contains(c.priceCents) else {
                throw InventoryError(.invalidEvent, "ticketClasses[\(i)].priceCents must be in 0...10000000000")
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

    /// The event that `make run` serves.
    public static let demo = EventDefinition(
        id: "demo", name: "Waitroom demo on-sale",
        ticketClasses: [
            TicketClass(id: "ga", name: "General admission", capacity: 5_000, priceCents: 4_500),
            TicketClass(id: "vip", name: "VIP", capacity: 200, priceCents: 19_900),
        ],
        admission: Admission(ratePerSecond: 5, maxActive: 200, sessionSeconds: 600))
}
