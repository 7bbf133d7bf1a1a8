import ArgumentParser
import LoadKit

/// The options of an SSE run, shared by the coordinator (`sse`) and its children (`sse-worker`).
struct SSEOptions: ParsableArguments {
    @Option(help: "Stream URL template: {event}, {ticket}, {channel}, {i} are replaced. Loopback only.")
    var url: String = "http://127.0.0.1:8080/v1/events/{event}/queue/{ticket}/stream"

    @Option(help: "Event id for {event}.")
    var event: String = "demo"

    @Option(help: "Channel names for {channel} are <channel-prefix><i mod channels>.")
    var channelPrefix: String = "ev"

    @Option(help: "How many distinct channels {channel} spreads over.")
    var channels: Int = 1

    @Option(help: "Join first: POST URL template (e.g. http://127.0.0.1:8080/v1/events/{event}/queue); each stream uses the ticket of one join.")
    var joinURL: String?

    @Option(help: "Keep-alive join connections per worker during the join phase.")
    var joinConcurrency: Int = 8

    @Option(help: "Prefix of the userIds of the join phase (unique per run if you want new places).")
    var userPrefix: String = "load"

    @Option(help: "Source addresses 127.0.0.2 ... 127.0.0.(1+N).")
    var sourceAddresses: Int = 8

    @Option(help: "Connections opened per second, all workers together (0 = as fast as possible).")
    var rate: Double = 5_000

    @Option(help: "Seconds to stay connected after the ramp (the measurement window).")
    var hold: Double = 30

    @Option(help: "Hard limit on a worker's whole run in seconds (join + ramp + hold).")
    var maxDuration: Double = 900

    @Option(help: "Steady latency (each stream's third and later position updates) stops counting once this file exists (checked every 20 ms): a script creates it when it stops publishing, so the last change reaching streams over the next interval is not counted as tick latency.")
    var steadyStopFile: String?

    func validate() throws {
        let template = try URLTemplate(self.url)
        if let joinURL = self.joinURL { _ = try URLTemplate(joinURL) }
        guard (1...254).contains(self.sourceAddresses) else { throw ValidationError("--source-addresses must be 1...254") }
        guard self.channels >= 1, self.joinConcurrency >= 1 else { throw ValidationError("--channels and --join-concurrency must be >= 1") }
        guard self.hold >= 0, self.maxDuration > 0, self.maxDuration <= 3_600 else { throw ValidationError("--max-duration must be in (0, 3600]") }
        if template.pathTemplate.contains("{ticket}"), self.joinURL == nil {
            throw ValidationError("the URL has {ticket}: give --join-url to join first")
        }
    }

    /// The arguments that reproduce these options in a child process.
    var arguments: [String] {
        var args = [
            "--url", self.url, "--event", self.event, "--channel-prefix", self.channelPrefix,
            "--channels", String(self.channels), "--join-concurrency", String(self.joinConcurrency),
            "--user-prefix", self.userPrefix, "--source-addresses", String(self.sourceAddresses),
            "--rate", String(self.rate), "--hold", String(self.hold), "--max-duration", String(self.maxDuration),
        ]
        if let joinURL = self.joinURL { args += ["--join-url", joinURL] }
        if let steadyStopFile = self.steadyStopFile { args += ["--steady-stop-file", steadyStopFile] }
        return args
    }
}
