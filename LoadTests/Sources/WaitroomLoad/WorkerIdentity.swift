import ArgumentParser

/// The options a coordinator gives each child: which one it is and its share of the work.
struct WorkerIdentity: ParsableArguments {
    @Option(help: "Index of this worker (0-based).")
    var workerIndex: Int = 0

    @Option(help: "Number of workers in the run.")
    var workers: Int = 1

    @Option(help: "Connections of this worker.")
    var workerConnections: Int = 1

    /// The arguments for worker `index` of `workers` with `connections`.
    static func arguments(index: Int, workers: Int, connections: Int) -> [String] {
        ["--worker-index", String(index), "--workers", String(workers), "--worker-connections", String(connections)]
    }
}
