import ArgumentParser
import Foundation
import Inventory
import WaitroomApp

/// `waitroomd admin …`: ops over the admin HTTP API.
public struct AdminCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Steer a running server: define events, set admission, pause and resume, watch the numbers.",
        discussion: """
            The server is --server or WAITROOM_ADMIN_URL (default \(AdminTarget.defaultServer)); the admin token \
            is WAITROOM_ADMIN_TOKEN or the file named by --token-file, never a command-line value.
            Exit codes: 0 done; 1 the server refused (its error code is printed); 2 bad input (an event \
            file, a setting); 3 the server cannot be reached or answered nonsense; 4 no admin token; \
            64 bad command line.
            """,
        subcommands: [Event.self, Rate.self, MaxActive.self, Admission.self, Pause.self, Resume.self, Stats.self])

    public init() {}

    /// Runs `body`; an ``AdminError`` is printed as `error: …` on standard error and becomes
    /// the process's exit code.
    static func perform(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as AdminError {
            Terminal.writeError("error: \(error)\n")
            throw ExitCode(error.exitCode)
        }
    }

    /// A usage error unless `event` is a valid event id.
    static func check(event: String) throws {
        guard EventDefinition.isValidID(event) else { throw ValidationError("event id '\(event)' must match [A-Za-z0-9_-]{1,64}") }
    }

    /// A usage error unless the server would take `patch`.
    static func check(_ patch: AdmissionPatch) throws {
        do {
            try patch.validate()
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Sends `patch` for `event` and prints the settings now in force.
    static func patch(_ event: String, _ patch: AdmissionPatch, _ options: AdminOptions) async throws {
        try await perform {
            let settings = try await options.client().admission(event, patch)
            print(AdminText.admission(event: event, settings))
        }
    }
}
