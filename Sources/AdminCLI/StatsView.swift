import Foundation
import WaitroomApp

/// The stats table of `waitroomd admin stats`: a pure function of the latest snapshot, the one
/// before it (for changes and per-second rates between refreshes) and what the screen should
/// say around it. No terminal codes: the live view adds those.
public enum StatsView {
    /// What the table is framed with.
    public struct Frame: Sendable, Equatable {
        public var server: String
        /// When the screen is drawn (shown in the title, so every refresh is visible).
        public var now: Date
        /// Seconds between refreshes with `--watch`; `nil` for a single look.
        public var interval: Double?
        /// Why the latest refresh failed (the view keeps the last table and says so).
        public var problem: String?

        public init(server: String, now: Date, interval: Double? = nil, problem: String? = nil) {
            self.server = server
            self.now = now
            self.interval = interval
            self.problem = problem
        }
    }

    /// The lines of the screen for event `eventID`.
    public static func render(eventID: String, current: StatsSnapshot?, previous: StatsSnapshot?, frame: Frame) -> [String] {
        var lines = ["Waitroom · event \(eventID) · \(frame.server) · \(RFC3339.string(frame.now))"]
        if let problem = frame.problem {
            let last = current.map { " · last answer \(RFC3339.string($0.takenAt))" } ?? ""
            lines.append("!! \(problem)\(last)")
        }
        guard let current else {
            lines.append("")
            lines.append("waiting for the first answer…")
            return lines
        }
        let s = current.stats
        let before = previous?.stats
        let seconds = previous.map { current.takenAt.timeIntervalSince($0.takenAt) } ?? 0
        var state: [String] = [s.paused ? "PAUSED" : "running"]
        if s.soldOut { state.append("SOLD OUT") }
        if !s.lottery.open { state.append("not open yet (pre-queue)") }
        lines.append("admission  \(state.joined(separator: ", ")) · \(number(s.admission.ratePerSecond))/s · "
                     + "max active \(grouped(s.admission.maxActive)) · session \(s.admission.sessionSeconds) s")
        lines.append("")

        lines.append(row(["queue", "now", "change", "per s"], widths: [22, 12, 10, 10]))
        func counter(_ name: String, _ value: (EventStatsBody) -> Int) -> String {
            let now = value(s)
            guard let before, seconds > 0 else { return row(["  " + name, grouped(now), "", ""], widths: [22, 12, 10, 10]) }
            let delta = now - value(before)
            return row(["  " + name, grouped(now), signed(delta), signed(Double(delta) / seconds)], widths: [22, 12, 10, 10])
        }
        lines.append(counter("waiting", \.waiting))
        if s.preQueue > 0 || !s.lottery.open { lines.append(counter("pre-queue", \.preQueue)) }
        lines.append(counter("active", \.active))
        lines.append(counter("admitted total", \.admittedTotal))
        lines.append(counter("left total", \.leftTotal))
        lines.append(counter("abandoned total", \.abandonedTotal))
        lines.append(counter("expired total", \.expiredTotal))
        lines.append(row(["  joins/s (server)", String(format: "%.1f", s.joinsPerSecond)], widths: [22, 12]))
        lines.append(row(["  admissions/s", String(format: "%.1f", s.admissionsPerSecond)], widths: [22, 12]))
        lines.append("")

        let widths = [16, 11, 9, 9, 11, 9]
        lines.append(row(["ticket class", "capacity", "held", "sold", "available", "sold +"], widths: widths))
        func classRow(_ name: String, capacity: Int, held: Int, sold: Int, soldBefore: Int?) -> String {
            row(["  " + name, grouped(capacity), grouped(held), grouped(sold), grouped(capacity - held - sold),
                 soldBefore.map { signed(sold - $0) } ?? ""], widths: widths)
        }
        for c in s.ticketClasses {
            let soldBefore = before?.ticketClasses.first { $0.id == c.id }?.sold
            lines.append(classRow(c.id, capacity: c.capacity, held: c.held, sold: c.sold, soldBefore: soldBefore))
        }
        if s.ticketClasses.count > 1 {
            func sum(_ classes: [EventStatsBody.TicketClass], _ value: (EventStatsBody.TicketClass) -> Int) -> Int {
                classes.reduce(0) { total, c in total + value(c) }
            }
            let classes = s.ticketClasses
            lines.append(classRow("all", capacity: sum(classes, \.capacity), held: sum(classes, \.held), sold: sum(classes, \.sold),
                                  soldBefore: before.map { sum($0.ticketClasses, \.sold) }))
        }
        lines.append("")
        let o = s.orders
        lines.append("orders  pending \(grouped(o.pending)) · completed \(grouped(o.completed)) · cancelled \(grouped(o.cancelled))"
                     + " · refunded \(grouped(o.refunded)) · needs attention \(grouped(o.needsAttention))")
        if let interval = frame.interval {
            lines.append("")
            let over = seconds > 0 ? "changes over the last \(String(format: "%.1f", seconds)) s" : "changes from the next refresh on"
            lines.append("every \(number(interval)) s · \(over) · Ctrl-C quits")
        }
        return lines
    }

    /// `12,345`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }

    /// `+12`, `-3`, `0`.
    static func signed(_ value: Int) -> String { value > 0 ? "+" + grouped(value) : grouped(value) }

    /// `+1.5`, `-0.3`, `0.0`.
    static func signed(_ value: Double) -> String {
        let text = String(format: "%.1f", value)
        return value >= 0.05 ? "+" + text : (text == "-0.0" ? "0.0" : text)
    }

    /// `5`, `2.5`: no trailing `.0`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.1f", value)
    }

    /// The first cell left-aligned, the others right-aligned, each in its width.
    static func row(_ cells: [String], widths: [Int]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
            out += i == 0 ? cell + pad : pad + cell
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }
}
