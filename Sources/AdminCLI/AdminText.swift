import Foundation
import Inventory
import WaitroomApp

/// What the admin commands print: plain text built from the server's answers, no I/O.
enum AdminText {
    /// `created event 'demo' (HTTP 201)` and the event as the server now has it.
    static func applied(_ applied: AdminClient.Applied) -> String {
        let verb = applied.created ? "created event '\(applied.event.id)' (HTTP 201)" : "updated event '\(applied.event.id)' (HTTP 200)"
        return verb + "\n" + summary(applied.event)
    }

    /// The event in a few lines: name, opening, classes, admission.
    static func summary(_ event: EventDefinition) -> String {
        var lines = ["  name       \(event.name)"]
        if let opensAt = event.opensAt { lines.append("  opens at   \(RFC3339.string(opensAt))") }
        for c in event.ticketClasses {
            let seats = c.seating.map { " · seated, \($0.count) rows" } ?? ""
            lines.append("  class      \(c.id): \(c.name) · capacity \(StatsView.grouped(c.capacity)) · "
                         + "\(price(c.priceCents))\(seats)")
        }
        let a = event.admission
        lines.append("  admission  \(StatsView.number(a.ratePerSecond))/s · max active \(StatsView.grouped(a.maxActive)) · "
                     + "session \(a.sessionSeconds) s")
        return lines.joined(separator: "\n")
    }

    /// `demo: 10/s · max active 200 · session 600 s · running`.
    static func admission(event: String, _ s: AdmissionPatch.Response) -> String {
        "\(event): \(StatsView.number(s.ratePerSecond))/s · max active \(StatsView.grouped(s.maxActive)) · "
            + "session \(s.sessionSeconds) s · \(s.paused ? "paused" : "running")"
    }

    /// `45.00`, from cents.
    static func price(_ cents: Int) -> String {
        "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)"
    }

    /// Pretty JSON with RFC 3339 times, keys sorted (the same text for the same value).
    static func json(_ value: some Encodable) throws(AdminError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw AdminError(.badResponse, "cannot write JSON: \(error)")
        }
    }
}
