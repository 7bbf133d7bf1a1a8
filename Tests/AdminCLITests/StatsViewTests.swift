import Foundation
import Testing
import WaitroomApp
@testable import AdminCLI

@Suite("The stats table as a function of two snapshots") struct StatsViewTests {
    /// A stats answer in the server's JSON, as the client decodes it.
    static func stats(waiting: Int, active: Int, admitted: Int, gaSold: Int, vipSold: Int = 2, paused: Bool = false,
                      joins: Double = 12.5) throws -> EventStatsBody {
        let json = """
            {"eventId": "demo", "waiting": \(waiting), "preQueue": 0, "admittedTotal": \(admitted), "active": \(active),
             "joinsPerSecond": \(joins), "admissionsPerSecond": 5, "paused": \(paused), "soldOut": false, "leftTotal": 7,
             "abandonedTotal": 1, "expiredTotal": 0, "lottery": {"open": true},
             "admission": {"ratePerSecond": 5, "maxActive": 200, "sessionSeconds": 600},
             "ticketClasses": [{"id": "ga", "capacity": 5000, "held": 12, "sold": \(gaSold)},
                               {"id": "vip", "capacity": 200, "held": 0, "sold": \(vipSold)}],
             "orders": {"pending": 3, "completed": 1234, "cancelled": 2, "refunded": 0, "needsAttention": 0}}
            """
        return try JSONDecoder().decode(EventStatsBody.self, from: Data(json.utf8))
    }

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let frame = StatsView.Frame(server: "http://127.0.0.1:8080", now: t0.addingTimeInterval(2), interval: 1)

    private func line(_ lines: [String], _ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix) } }

    @Test func changesAndRatesBetweenTwoRefreshes() throws {
        let before = StatsSnapshot(stats: try Self.stats(waiting: 12_000, active: 190, admitted: 4_300, gaSold: 100), takenAt: Self.t0)
        let after = StatsSnapshot(stats: try Self.stats(waiting: 12_345, active: 200, admitted: 4_310, gaSold: 104),
                                  takenAt: Self.t0.addingTimeInterval(2))
        let lines = StatsView.render(eventID: "demo", current: after, previous: before, frame: Self.frame)
        #expect(lines[0] == "Waitroom · event demo · http://127.0.0.1:8080 · 2027-01-15T08:00:02Z")
        #expect(lines[1] == "admission  running · 5/s · max active 200 · session 600 s")
        #expect(line(lines, "  waiting") == "  waiting                   12,345      +345    +172.5")
        #expect(line(lines, "  active") == "  active                       200       +10      +5.0")
        #expect(line(lines, "  admitted total") == "  admitted total             4,310       +10      +5.0")
        #expect(line(lines, "  left total") == "  left total                     7         0       0.0")
        #expect(line(lines, "  joins/s") == "  joins/s (server)            12.5")
        #expect(line(lines, "  admissions/s") == "  admissions/s                 5.0")
        #expect(line(lines, "  ga") == "  ga                  5,000       12      104      4,884       +4")
        #expect(line(lines, "  vip") == "  vip                   200        0        2        198        0")
        #expect(line(lines, "  all") == "  all                 5,200       12      106      5,082       +4")
        #expect(line(lines, "orders") == "orders  pending 3 · completed 1,234 · cancelled 2 · refunded 0 · needs attention 0")
        #expect(lines.last == "every 1 s · changes over the last 2.0 s · Ctrl-C quits")
    }

    @Test func aSingleLookHasNoChanges() throws {
        let now = StatsSnapshot(stats: try Self.stats(waiting: 5, active: 1, admitted: 9, gaSold: 0, paused: true), takenAt: Self.t0)
        let lines = StatsView.render(eventID: "demo", current: now, previous: nil,
                                     frame: .init(server: "http://h:1", now: Self.t0))
        #expect(lines[1].hasPrefix("admission  PAUSED · "))
        #expect(line(lines, "  waiting") == "  waiting                        5")
        #expect(line(lines, "  ga") == "  ga                  5,000       12        0      4,988")
        #expect(!lines.contains { $0.hasPrefix("every") })
    }

    @Test func anUnreachableServerKeepsTheLastTableAndSaysSo() throws {
        let last = StatsSnapshot(stats: try Self.stats(waiting: 5, active: 1, admitted: 9, gaSold: 0), takenAt: Self.t0)
        var frame = Self.frame
        frame.problem = "server unreachable (retrying): cannot reach http://127.0.0.1:8080: Connection refused"
        let lines = StatsView.render(eventID: "demo", current: last, previous: nil, frame: frame)
        #expect(lines[1] == "!! server unreachable (retrying): cannot reach http://127.0.0.1:8080: Connection refused"
                + " · last answer 2027-01-15T08:00:00Z")
        #expect(line(lines, "  waiting") != nil)
        let never = StatsView.render(eventID: "demo", current: nil, previous: nil, frame: frame)
        #expect(never.count == 4 && never[3] == "waiting for the first answer…")
    }

    @Test func numberFormats() {
        #expect(StatsView.grouped(0) == "0")
        #expect(StatsView.grouped(999) == "999")
        #expect(StatsView.grouped(1_000) == "1,000")
        #expect(StatsView.grouped(-1_234_567) == "-1,234,567")
        #expect(StatsView.signed(-3) == "-3")
        #expect(StatsView.signed(-0.01) == "0.0")
        #expect(StatsView.signed(0.25) == "+0.2" || StatsView.signed(0.25) == "+0.3")
        #expect(StatsView.number(5) == "5")
        #expect(StatsView.number(0.5) == "0.5")
    }

    @Test func theLiveScreenRedrawsInPlace() {
        let text = Terminal.frame(["a", "b"])
        #expect(text == "\u{1B}[Ha\u{1B}[K\r\nb\u{1B}[K\r\n\u{1B}[J")
    }
}
