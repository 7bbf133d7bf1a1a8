import Foundation
import Logging
import Postgres

/// Shared by the suites that need PostgreSQL: where the test server is, and per-test schemas so suites run in parallel.
public enum TestDatabase {
    public static let url = ProcessInfo.processInfo.environment["WAITROOM_TEST_DATABASE_URL"]
        ?? "postgres://waitroom@127.0.0.1:5441/waitroom_test"

    public static var logger: Logger {
        var logger = Logger(label: "PostgresTests")
        logger.logLevel = .warning
        return logger
    }

    public struct Unreachable: Error, CustomStringConvertible {
        public let description: String
    }

    public static func configuration(
        poolSize: Int = 4, acquireTimeout: Duration = .seconds(5), schema: String? = nil
    ) throws -> PostgresConfiguration {
        var configuration = try PostgresConfiguration(url: url)
        configuration.poolSize = poolSize
        configuration.acquireTimeout = acquireTimeout
        configuration.applicationName = "waitroom-tests"
        if let schema { configuration.searchPath = [schema] }
        return configuration
    }

    /// A client whose server answered a ping. Fails the test loudly if PostgreSQL is down.
    public static func client(poolSize: Int = 4, acquireTimeout: Duration = .seconds(5), schema: String? = nil) async throws -> PostgresClient {
        let client = PostgresClient(
            configuration: try configuration(poolSize: poolSize, acquireTimeout: acquireTimeout, schema: schema),
            logger: logger)
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw Unreachable(description: """
                PostgreSQL is unreachable at \(url) (\(error)). Start it with scripts/services.sh start \
                or point WAITROOM_TEST_DATABASE_URL at a server. These tests never skip.
                """)
        }
        return client
    }

    public static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    /// Creates a fresh schema, hands `body` a client whose `search_path` is that schema,
    /// and drops the schema afterwards.
    public static func withSchema<T>(
        poolSize: Int = 4, acquireTimeout: Duration = .seconds(5),
        _ body: (PostgresClient, String) async throws -> T
    ) async throws -> T {
        let schema = uniqueName("pgt")
        let admin = try await client(poolSize: 1)
        _ = try await admin.query("CREATE SCHEMA \(schema)")
        let client = try await client(poolSize: poolSize, acquireTimeout: acquireTimeout, schema: schema)
        do {
            let value = try await body(client, schema)
            await client.close()
            _ = try await admin.query("DROP SCHEMA \(schema) CASCADE")
            await admin.close()
            return value
        } catch {
            await client.close()
            _ = try? await admin.query("DROP SCHEMA \(schema) CASCADE")
            await admin.close()
            throw error
        }
    }
}

public struct TimedOut: Error, CustomStringConvertible { public let description: String }

/// Runs `body`, failing with a clear error if it takes longer than `limit`.
public func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut(description: "timed out after \(limit)")
        }
        let value = try await group.next()!
        group.cancelAll()
        return value
    }
}
