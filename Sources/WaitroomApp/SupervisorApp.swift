import Foundation
import Logging
import ServiceLifecycle

/// `waitroomd serve`: the supervisor in a ServiceGroup that turns SIGTERM/SIGINT into a drain.
public enum SupervisorApp {
    public static func run(configuration: ServerConfiguration, executable: URL, logger: Logger) async throws {
        let supervisor = Supervisor(configuration: configuration, executable: executable,
                                    environment: ProcessInfo.processInfo.environment, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: supervisor)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
