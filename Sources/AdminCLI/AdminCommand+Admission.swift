import ArgumentParser
import WaitroomApp

extension AdminCommand {
    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set how many places are admitted per second.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String
        @Argument(help: "Places per second (may be fractional, e.g. 0.5).") var perSecond: Double

        var patch: AdmissionPatch { AdmissionPatch(ratePerSecond: perSecond) }
        func validate() throws { try check(event: event); try check(patch) }
        func run() async throws { try await AdminCommand.patch(event, patch, options) }
    }

    struct MaxActive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "max-active", abstract: "Cap how many admitted users may be active at once.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String
        @Argument(help: "Admitted users active at once.") var count: Int

        var patch: AdmissionPatch { AdmissionPatch(maxActive: count) }
        func validate() throws { try check(event: event); try check(patch) }
        func run() async throws { try await AdminCommand.patch(event, patch, options) }
    }

    struct Admission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change several admission settings at once.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String
        @Option(help: "Places admitted per second.") var rate: Double?
        @Option(help: "Admitted users active at once.") var maxActive: Int?
        @Option(help: "How long an admission token stays valid.") var sessionSeconds: Int?

        var patch: AdmissionPatch { AdmissionPatch(ratePerSecond: rate, maxActive: maxActive, sessionSeconds: sessionSeconds) }
        func validate() throws {
            try check(event: event)
            guard !patch.isEmpty else { throw ValidationError("give at least one of --rate, --max-active, --session-seconds") }
            try check(patch)
        }
        func run() async throws { try await AdminCommand.patch(event, patch, options) }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop admitting (waiters keep their places and see `paused`).")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String

        func validate() throws { try check(event: event) }
        func run() async throws { try await AdminCommand.patch(event, AdmissionPatch(paused: true), options) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Admit again after a pause.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String

        func validate() throws { try check(event: event) }
        func run() async throws { try await AdminCommand.patch(event, AdmissionPatch(paused: false), options) }
    }
}
