import ArgumentParser
import LoadKit

/// The options of a joins run, shared by the coordinator (`joins`) and its children.
struct JoinsOptions: ParsableArguments {
    @Option(help: "Join URL template ({event} is replaced). Loopback only.")
    var url: String = "http://127.0.0.1:8080/v1/events/{event}/queue"

    @Option(help: "Event id for {event}.")
    var event: String = "demo"

    @Option(help: "Seconds to keep posting.")
    var duration: Double = 10

    @Option(help: "Prefix of the userIds (each request a new user: <prefix>-w<worker>-<n>).")
    var userPrefix: String = "joins"

    @Option(help: "Source addresses 127.0.0.2 ... 127.0.0.(1+N).")
    var sourceAddresses: Int = 1

    func validate() throws {
        _ = try URLTemplate(self.url)
        guard self.duration > 0, self.duration <= 600 else { throw ValidationError("--duration must be in (0, 600]") }
        guard (1...254).contains(self.sourceAddresses) else { throw ValidationError("--source-addresses must be 1...254") }
    }

    /// The arguments that reproduce these options in a child.
    var arguments: [String] {
        ["--url", self.url, "--event", self.event, "--duration", String(self.duration),
         "--user-prefix", self.userPrefix, "--source-addresses", String(self.sourceAddresses)]
    }
}
