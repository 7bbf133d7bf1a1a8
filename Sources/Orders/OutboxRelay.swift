import Foundation
import Logging
import Metrics
import Postgres
import ServiceLifecycle

/// Delivers outbox rows at least once, in id order per claim, to a sink (the log, an HTTP
/// webhook, …). Rows are claimed with `SKIP LOCKED`; a failed delivery is retried with backoff.
public struct OutboxRelay: Service {
    /// Delivers a batch of events (`topic`, JSON payload); throws to have it retried.
    public typealias Sink = @Sendable (_ events: [(id: Int64, topic: String, payload: String)]) async throws -> Void

    private let database: PostgresClient
    private let sink: Sink
    private let logger: Logger
    private let isReady: @Sendable () -> Bool
    private let delivered = Counter(label: "orders_outbox_delivered_total")

    public init(database: PostgresClient, logger: Logger, isReady: @escaping @Sendable () -> Bool = { true }, sink: @escaping Sink) {
        self.database = database
        self.sink = sink
        self.logger = logger
        self.isReady = isReady
    }

    /// A sink that writes each event to the log.
    public static func logSink(_ logger: Logger) -> Sink {
        { events in
            for e in events { logger.info("outbox event", metadata: ["outbox.id": "\(e.id)", "topic": "\(e.topic)", "payload": "\(e.payload)"]) }
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var n = 0
            if isReady() {
                do { n = try await relayOnce() } catch {
                    logger.warning("outbox relay round failed", metadata: ["error": "\(error)"])
                }
            }
            if n == 0 { try? await Task.sleep(for: .milliseconds(500)) }
        }
    }

    /// Delivers one batch; returns how many rows it delivered.
    @discardableResult
    public func relayOnce(limit: Int = 100) async throws -> Int {
        try await database.withTransaction { connection in
            let rows = try await connection.query("""
                SELECT id, topic, payload::text FROM outbox
                WHERE delivered_at IS NULL AND next_attempt_at <= now()
                ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [.int(Int64(limit))])
            let events = try rows.map { (id: try $0.decode(Int64.self, at: 0), topic: try $0.decode(String.self, at: 1),
                                         payload: try $0.decode(String.self, at: 2)) }
            guard !events.isEmpty else { return 0 }
            let ids = events.map { String($0.id) }.joined(separator: ",")
            do {
                try await sink(events)
            } catch {
                logger.warning("outbox delivery failed; will retry", metadata: ["error": "\(error)", "count": "\(events.count)"])
                _ = try await connection.query("""
                    UPDATE outbox SET attempts = attempts + 1,
                        next_attempt_at = now() + make_interval(secs => least(60, 0.5 * power(2, attempts)))
                    WHERE id = ANY (string_to_array($1, ',')::bigint[])
                    """, [.string(ids)])
                return 0
            }
            _ = try await connection.query(
                "UPDATE outbox SET delivered_at = now() WHERE id = ANY (string_to_array($1, ',')::bigint[])", [.string(ids)])
            delivered.increment(by: events.count)
            return events.count
        }
    }
}
