import ArgumentParser
import LoadKit

/// The options of an on-sale run, shared by the coordinator (`onsale`) and its children (`onsale-worker`).
struct OnsaleOptions: ParsableArguments {
    @Option(help: "Server base URL (loopback), e.g. http://127.0.0.1:8080.")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Event id.")
    var event: String = "demo"

    @Option(help: "Ticket class ids of the event, comma-separated (users reserve among them).")
    var classes: String = "ga"

    @Option(help: "Prefix of the userIds (unique per run for new places).")
    var userPrefix: String = "onsale"

    @Option(help: "Users arriving per second, all workers together (0 = all at once).")
    var arrivalRate: Double = 1_000

    @Option(help: "Share of confirms sent with `simulate: decline` (each such user then retries once with approve).")
    var declineShare: Double = 0.02

    @Option(help: "Milliseconds between polls of an order until it is completed or cancelled.")
    var pollMilliseconds: Int = 100

    @Option(help: "Source addresses 127.0.0.2 ... 127.0.0.(1+N).")
    var sourceAddresses: Int = 8

    @Option(help: "Hard limit on the run in seconds.")
    var maxDuration: Double = 600

    @Option(help: "Unix µs at which second 0 of the series starts (set by the coordinator).")
    var epochMicros: UInt64 = 0

    func validate() throws {
        let base = try URLTemplate(self.url + "/")
        guard base.pathTemplate == "/" else { throw ValidationError("--url is a base URL without a path") }
        guard !self.classList.isEmpty else { throw ValidationError("--classes needs at least one class id") }
        guard (0...1).contains(self.declineShare) else { throw ValidationError("--decline-share must be in 0...1") }
        guard (1...254).contains(self.sourceAddresses) else { throw ValidationError("--source-addresses must be 1...254") }
        guard self.pollMilliseconds >= 10, self.maxDuration > 0, self.maxDuration <= 3_600 else {
            throw ValidationError("--poll-milliseconds must be >= 10, --max-duration in (0, 3600]")
        }
    }

    /// The class ids.
    var classList: [String] { self.classes.split(separator: ",").map { String($0) }.filter { !$0.isEmpty } }

    /// The arguments that reproduce these options in a child process, with `epoch`.
    func arguments(epochMicros: UInt64) -> [String] {
        [
            "--url", self.url, "--event", self.event, "--classes", self.classes, "--user-prefix", self.userPrefix,
            "--arrival-rate", String(self.arrivalRate), "--decline-share", String(self.declineShare),
            "--poll-milliseconds", String(self.pollMilliseconds), "--source-addresses", String(self.sourceAddresses),
            "--max-duration", String(self.maxDuration), "--epoch-micros", String(epochMicros),
        ]
    }
}
