import Foundation
import Inventory

/// The body of `PUT /v1/admin/events/{eventId}`, as the contract spells it. The server decodes
/// it; `waitroomd admin event apply` builds it from an event file and validates it the same way.
public struct AdminEventBody: Codable, Sendable, Equatable {
    public struct TicketClass: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var capacity: Int
        public var priceCents: Int
        public var seating: [EventDefinition.SeatRow]?
    }

    public struct Admission: Codable, Sendable, Equatable {
        public var ratePerSecond: Double
        public var maxActive: Int
        public var sessionSeconds: Int
    }

    public var name: String
    public var opensAt: String?
    public var ticketClasses: [TicketClass]
    public var admission: Admission

    /// The body that defines `event` (its id is the path's, not the body's).
    public init(_ event: EventDefinition) {
        name = event.name
        opensAt = event.opensAt.map { RFC3339.string($0) }
        ticketClasses = event.ticketClasses.map {
            TicketClass(id: $0.id, name: $0.name, capacity: $0.capacity, priceCents: $0.priceCents, seating: $0.seating)
        }
        admission = Admission(ratePerSecond: event.admission.ratePerSecond, maxActive: event.admission.maxActive,
                              sessionSeconds: event.admission.sessionSeconds)
    }

    /// The event this body defines under `id`; `opensAt` must be RFC 3339.
    public func definition(id: String) throws(InventoryError) -> EventDefinition {
        var opens: Date?
        if let opensAt {
            let withFraction = ISO8601DateFormatter()
            withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = ISO8601DateFormatter().date(from: opensAt) ?? withFraction.date(from: opensAt) else {
                throw InventoryError(.invalidEvent, "opensAt must be an RFC 3339 time, e.g. 2026-12-01T18:00:00Z")
            }
            opens = date
        }
        let event = EventDefinition(
            id: id, name: name, opensAt: opens,
            ticketClasses: ticketClasses.map { .init(id: $0.id, name: $0.name, capacity: $0.capacity, priceCents: $0.priceCents,
                                            seating: $0.seating) },
            admission: .init(ratePerSecond: admission.ratePerSecond, maxActive: admission.maxActive,
                             sessionSeconds: admission.sessionSeconds))
        try event.validate()
        return event
    }
}
