import Foundation
import WaitroomApp

/// `waitroomd admin stats --watch`: asks for the stats every `interval` seconds and redraws the
/// table in place, with changes and rates between refreshes. When the server goes away it keeps
/// the last table, says so on a line of its own and keeps trying. Ends on Ctrl-C (the terminal
/// restored) or on an error that trying again cannot mend (a bad token, an unknown event).
struct LiveStats {
    let client: AdminClient
    let eventID: String
    let interval: Double
    let json: Bool

    func run() async throws(AdminError) {
        let screen = Terminal.isInteractive && !json
        if screen { Terminal.write(Terminal.enter) }
        let signals = Terminal.onSignals { number in
            Terminal.finish(writing: screen ? Terminal.leave : "", exitCode: number == SIGINT ? 0 : 128 + number)
        }
        defer {
            if screen { Terminal.write(Terminal.leave) }
            signals.forEach { $0.cancel() }
        }
        var current: StatsSnapshot?
        var previous: StatsSnapshot?
        while true {
            let started = Date()
            var problem: String?
            do {
                let (stats, text) = try await client.stats(eventID)
                previous = current
                current = StatsSnapshot(stats: stats, takenAt: Date())
                if json { Terminal.write(String(decoding: text, as: UTF8.self) + "\n") }
            } catch where error.isTransient {
                // The title line names the server already.
                let reason = error.message.replacingOccurrences(of: "cannot reach \(client.target.server): ", with: "")
                problem = error.code == .unreachable ? "server unreachable (retrying): \(reason)" : "server error (retrying): \(error)"
                if json { Terminal.writeError("\(RFC3339.string(Date())) \(problem!)\n") }
            }
            if !json {
                let lines = StatsView.render(eventID: eventID, current: current, previous: previous,
                                             frame: .init(server: client.target.server, now: Date(), interval: interval, problem: problem))
                Terminal.write(screen ? Terminal.frame(lines) : lines.joined(separator: "\n") + "\n\n")
            }
            let rest = interval - Date().timeIntervalSince(started)
            if rest > 0 { try? await Task.sleep(for: .milliseconds(Int(rest * 1000))) }
        }
    }
}
