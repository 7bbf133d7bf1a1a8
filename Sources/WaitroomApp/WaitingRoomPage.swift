import Inventory

/// The waiting-room page `/e/{eventId}`: plain HTML, no build step.
///
/// Until the queue lands (the Waitroom issue) it shows the event and its ticket classes; the
/// live position stream is added there.
enum WaitingRoomPage {
    static func render(event: EventDefinition) -> String {
        let classes = event.ticketClasses.map { c in
            "<li>\(escape(c.name)): \(c.capacity) tickets at \(price(c.priceCents))</li>"
        }.joined(separator: "\n        ")
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(event.name)) · Waitroom</title>
        <style>
          body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
          h1 { font-size: 1.6rem; }
          .card { border: 1px solid #d8dee8; border-radius: 12px; padding: 1.2rem 1.4rem; }
        </style>
        </head>
        <body>
        <h1>\(escape(event.name))</h1>
        <div class="card" id="event" data-event-id="\(escape(event.id))">
          <p>Tickets on sale:</p>
          <ul>
            \(classes)
          </ul>
          <p>Admission: \(formatRate(event.admission.ratePerSecond)) people per second.</p>
        </div>
        </body>
        </html>
        """
    }

    static func notFound(eventID: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Event not found · Waitroom</title></head>
        <body><h1>Event not found</h1><p>There is no event “\(escape(eventID))”.</p></body></html>
        """
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func price(_ cents: Int) -> String {
        let units = cents / 100, rest = cents % 100
        return "\(units).\(rest < 10 ? "0" : "")\(rest)"
    }

    static func formatRate(_ rate: Double) -> String {
        rate == rate.rounded() ? String(Int(rate)) : String(rate)
    }
}
