/// How the order saga behaves; set from the server's configuration.
public struct OrdersConfiguration: Sendable {
    /// How long a payment may take before the order is cancelled and its tickets go back.
    public var paymentTimeout: Duration
    /// How long a coordinator's claim on an order lasts without a heartbeat.
    public var leaseDuration: Duration
    /// How often coordinators look for work when no notification woke them.
    public var pollInterval: Duration
    /// Attempts of a forward step before the order is `needs_attention` (compensations retry forever).
    public var maxAttempts: Int
    /// Backoff of retried steps: `retryBase × 2^attempt`, capped, with full jitter.
    public var retryBase: Duration
    public var retryCap: Duration
    /// Orders one claim takes, and steps run at once, per process.
    public var claimBatch: Int
    /// HMAC-SHA256 secret of the payment webhooks (`X-Payment-Signature`).
    public var webhookSecret: [UInt8]
    /// The simulator's latency before it calls the webhook, and how often it calls it twice
    /// (the second time late).
    public var simulatedLatency: Duration
    public var simulatedDuplicateRate: Double

    public init(paymentTimeout: Duration = .seconds(120), leaseDuration: Duration = .seconds(10),
                pollInterval: Duration = .seconds(1), maxAttempts: Int = 5, retryBase: Duration = .milliseconds(200),
                retryCap: Duration = .seconds(30), claimBatch: Int = 64, webhookSecret: [UInt8],
                simulatedLatency: Duration = .milliseconds(200), simulatedDuplicateRate: Double = 0.2) {
        self.paymentTimeout = paymentTimeout
        self.leaseDuration = leaseDuration
        self.pollInterval = pollInterval
        self.maxAttempts = maxAttempts
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.claimBatch = claimBatch
        self.webhookSecret = webhookSecret
        self.simulatedLatency = simulatedLatency
        self.simulatedDuplicateRate = simulatedDuplicateRate
    }
}
