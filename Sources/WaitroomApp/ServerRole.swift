/// What a worker process runs (`WAITROOM_ROLE`, `serve --role`).
///
/// - `all`: the public HTTP API and the background work of the order saga (one node does everything).
/// - `edge`: the public HTTP API, the queue and admission; no order saga, no hold sweeper. For
///   nodes behind a load balancer when separate `saga` workers run.
/// - `saga`: the order coordinator, the payment simulator's webhook delivery, the outbox relay and
///   the hold sweeper, with only `/healthz`, `/readyz` and `/metrics` on the port (for probes and
///   scraping); no public API.
public enum ServerRole: String, Sendable, CaseIterable, CustomStringConvertible {
    case all, edge, saga

    /// Reads a role as written in the environment or on the command line (case-insensitive).
    public init?(parsing text: String) {
        self.init(rawValue: text.lowercased())
    }

    /// Serves the public API, the streams and the admission controller.
    public var runsEdge: Bool { self != .saga }
    /// Runs the order saga, the outbox relay and the hold sweeper.
    public var runsSaga: Bool { self != .edge }

    public var description: String { rawValue }
}
