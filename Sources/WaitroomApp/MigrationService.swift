import Inventory
import Logging
import Postgres
import ServiceLifecycle
import Synchronization

/// Applies the migrations at start-up, retrying with backoff while PostgreSQL is unreachable, so
/// a worker that starts before its database comes up serves `503` on `/readyz` (not a crash
/// loop) and becomes ready when the schema is in place. Concurrent workers are serialized by the
/// migrator's advisory lock.
final class MigrationService: Service {
    private let database: PostgresClient
    private let logger: Logger
    private let done = Atomic<Bool>(false)

    init(database: PostgresClient, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    var isComplete: Bool { done.load(ordering: .acquiring) }

    func run() async throws {
        var delay: Duration = .milliseconds(200)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let applied = try await Migrator(client: database, migrations: DatabaseSchema.migrations, logger: logger).migrate()
                if !applied.isEmpty {
                    logger.info("migrations applied", metadata: ["versions": "\(applied.map(\.version))"])
                }
                done.store(true, ordering: .releasing)
                break
            } catch let error as PostgresError where error.code == .migration {
                // A schema that disagrees with the code is not retried into: stop the worker.
                logger.critical("migrations refused", metadata: ["error": "\(error)"])
                throw error
            } catch {
                logger.warning("migrations not applied yet; retrying", metadata: ["error": "\(error)", "delay": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        // Stay in the group until shutdown so that the group does not end with this service.
        try? await gracefulShutdown()
    }
}
