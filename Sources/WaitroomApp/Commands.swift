import Inventory
import Logging
import Postgres

/// `waitroomd migrate`: applies pending migrations and answers what it applied.
public enum MigrateCommand {
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws -> [String] {
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        do {
            let applied = try await Migrator(client: database, migrations: InventoryMigrations.all, logger: logger).migrate()
            await database.close()
            return applied.map { "\($0.version) (\($0.name))" }
        } catch {
            await database.close()
            throw error
        }
    }
}

/// `waitroomd demo`: creates or updates the demo event.
public enum DemoCommand {
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws -> String {
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        do {
            _ = try await Migrator(client: database, migrations: InventoryMigrations.all, logger: logger).migrate()
            let outcome = try await EventCatalog(database: database).upsert(.demo)
            await database.close()
            return "demo event '\(EventDefinition.demo.id)' \(outcome == .created ? "created" : "updated")"
        } catch {
            await database.close()
            throw error
        }
    }
}
