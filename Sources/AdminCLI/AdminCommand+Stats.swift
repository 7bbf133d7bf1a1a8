import ArgumentParser
import Foundation

extension AdminCommand {
    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The event's numbers: queue, admission, ticket classes, orders; --watch keeps them live.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String
        @Flag(help: "Redraw in place every --interval seconds until Ctrl-C.") var watch = false
        @Option(help: ArgumentHelp("Seconds between refreshes with --watch.", valueName: "seconds")) var interval: Double = 1
        @Flag(help: "Print the server's JSON (with --watch: one line per refresh).") var json = false

        func validate() throws {
            try check(event: event)
            guard interval.isFinite, (0.2...3600).contains(interval) else {
                throw ValidationError("--interval must be in 0.2...3600 seconds")
            }
        }

        func run() async throws {
            try await AdminCommand.perform {
                let client = try options.client()
                if watch {
                    try await LiveStats(client: client, eventID: event, interval: interval, json: json).run()
                    return
                }
                let (stats, text) = try await client.stats(event)
                if json {
                    print(String(decoding: text, as: UTF8.self))
                } else {
                    let now = Date()
                    let lines = StatsView.render(eventID: event, current: StatsSnapshot(stats: stats, takenAt: now), previous: nil,
                                                 frame: .init(server: client.target.server, now: now))
                    print(lines.joined(separator: "\n"))
                }
            }
        }
    }
}
