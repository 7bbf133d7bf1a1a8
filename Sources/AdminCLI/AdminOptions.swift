import ArgumentParser
import Foundation
import NIOCore

/// Where every admin command sends its calls. The token has no option of its own on purpose: a
/// value on the command line is visible to every user of the machine in `ps`.
public struct AdminOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's base URL (else WAITROOM_ADMIN_URL, else \(AdminTarget.defaultServer)).",
                               valueName: "url"))
    public var server: String?

    @Option(help: ArgumentHelp("Read the admin token from this file (else WAITROOM_ADMIN_TOKEN).", valueName: "path"))
    public var tokenFile: String?

    @Option(help: ArgumentHelp("Seconds to wait for an answer.", valueName: "seconds"))
    public var timeout: Double = 5

    public init() {}

    public func validate() throws {
        guard timeout.isFinite, timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be in (0, 600] seconds") }
    }

    /// The client for these options and `environment` (the token, the server's URL).
    public func client(environment: [String: String] = ProcessInfo.processInfo.environment) throws(AdminError) -> AdminClient {
        AdminClient(target: try AdminTarget.resolve(server: server, tokenFile: tokenFile, environment: environment),
                    timeout: .milliseconds(Int64(timeout * 1000)))
    }
}
