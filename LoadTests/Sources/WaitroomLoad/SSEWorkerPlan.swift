import LoadKit

/// Everything one SSE worker needs, as plain values (safe to hand to its event loop).
struct SSEWorkerPlan: Sendable {
    var worker: Int
    var workers: Int
    var connections: Int
    var streamURL: URLTemplate
    var joinURL: URLTemplate?
    var event: String
    var channelPrefix: String
    var channels: Int
    var joinConcurrency: Int
    var userPrefix: String
    var sources: SourceAddressPool
    var ratePerSecond: Double
    var hold: Double
    var maxDuration: Double
    var steadyStopFile: String?

    init(options: SSEOptions, identity: WorkerIdentity) throws {
        self.worker = identity.workerIndex
        self.workers = identity.workers
        self.connections = identity.workerConnections
        self.streamURL = try URLTemplate(options.url)
        self.joinURL = try options.joinURL.map(URLTemplate.init)
        self.event = options.event
        self.channelPrefix = options.channelPrefix
        self.channels = options.channels
        self.joinConcurrency = options.joinConcurrency
        self.userPrefix = options.userPrefix
        self.sources = SourceAddressPool(count: options.sourceAddresses)
        self.ratePerSecond = options.rate / Double(max(identity.workers, 1))
        self.hold = options.hold
        self.maxDuration = options.maxDuration
        self.steadyStopFile = options.steadyStopFile
    }

    /// The global index of this worker's connection `i` (connections interleave across workers).
    func globalIndex(_ i: Int) -> Int { i * self.workers + self.worker }
}
