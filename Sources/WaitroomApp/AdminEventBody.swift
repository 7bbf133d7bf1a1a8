import Foundation
import Inventory

/// The body of `PUT /v1/admin/events/{eventId}`, as the contract spells it.
struct AdminEventBody: Decodable, Sendable {
    struct TicketClass: Decodable, Sendable {
        var id: String
        var name: String
        var capacity: Int
        var priceCents: Int
        var seating: [EventDefinition.SeatRow]?
    }

    struct Admission: Decodable, Sendable {
        var ratePerSecond: Double
        var maxActive: Int
        var sessionSeconds: Int
    }

    var name: String
    var opensAt: String?
    var ticketClasses: [TicketClass]
    var admission: Admission

    /// The event this body defines under `id`; `opensAt` must be RFC 3339.
    func definition(id: String) throws(InventoryError) -> EventDefinition {
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
