/// The pure state an ``EventTracker`` keeps for one event: the position index, the settings, the
/// departures cursor, the measured admission rate and when frontiers were reached. No I/O: the
/// tracker feeds it parsed snapshots and tick messages, with the time passed in.
public struct EventPositionState: Sendable {
    /// What applying a snapshot changed, for the tracker to report.
    public struct Applied: Sendable, Equatable {
        /// The frontier before the snapshot.
        public var previousFrontier: Int
        /// The frontier after it.
        public var frontier: Int
        /// Edge-triggered changes of the settings (empty on the first load).
        public var changes: [EventTrackerUpdate.Change]
        /// More departures are waiting after this batch: read again before reporting.
        public var hasMore: Bool
        /// A rebuild is needed before positions can be trusted again.
        public var needsRebuild: Bool
    }

    /// The index; `nil` until the first rebuild.
    public private(set) var index: PositionIndex?
    /// The settings as last read.
    public private(set) var settings = EventQueueSettings()
    /// The id of the last departure applied.
    public private(set) var cursor = "0-0"
    /// Redis time (unix ms) of the last snapshot.
    public private(set) var lastNowMs: Int64 = 0
    /// The admission rate measurement.
    public private(set) var rate: AdmissionRateEstimator
    /// Frontiers in increasing order with the time (unix ms) they were reached.
    private var reached: [(frontier: Int, atMs: Int64)] = []
    private let maxReached: Int

    /// An empty state; `rate` sets the estimator's tuning, `maxReached` bounds the admission-time history.
    public init(rate: AdmissionRateEstimator = AdmissionRateEstimator(), maxReached: Int = 4096) {
        self.rate = rate
        self.maxReached = max(16, maxReached)
    }

    /// Whether the next read must be a rebuild.
    public var needsRebuild: Bool { self.index == nil }

    /// Records a `tick <F> <admittedAtMs> <count>` message: when frontier `F` was reached. The
    /// tick's time is the admission's own; a snapshot that saw `F` first (it raced the message)
    /// only knew when it looked, so the tick's earlier time replaces it.
    public mutating func recordTick(frontier: Int, admittedAtMs: Int64) {
        guard let last = self.reached.last, frontier <= last.frontier else {
            self.noteReached(frontier: frontier, atMs: admittedAtMs)
            return
        }
        var low = 0
        var high = self.reached.count
        while low < high {
            let middle = (low + high) / 2
            if self.reached[middle].frontier < frontier { low = middle + 1 } else { high = middle }
        }
        if self.reached[low].frontier == frontier {
            self.reached[low].atMs = min(self.reached[low].atMs, admittedAtMs)
        } else if admittedAtMs <= self.reached[low].atMs {
            self.reached.insert((frontier, admittedAtMs), at: low)
        }
    }

    /// Applies a parsed snapshot observed at `now` (seconds, monotonic); `batchSize` is the
    /// `COUNT` the snapshot asked for (a full batch means more may follow).
    public mutating func apply(_ snapshot: PositionSnapshot, now: Double, batchSize: Int) -> Applied {
        let previousFrontier = self.index?.frontier ?? 0
        let wasLoaded = self.index != nil
        let previousSettings = self.settings
        var hasMore = false
        switch snapshot {
        case .trimmed(_, let settings, let nowMs):
            self.settings = settings
            self.lastNowMs = nowMs
            self.index = nil
            self.cursor = "0-0"
            return Applied(previousFrontier: previousFrontier, frontier: previousFrontier, changes: [], hasMore: false, needsRebuild: true)
        case .incremental(let frontier, let settings, let nowMs, let departures):
            guard var index = self.index else {
                return Applied(previousFrontier: 0, frontier: 0, changes: [], hasMore: false, needsRebuild: true)
            }
            index.apply(departures: departures.lazy.map(\.order))
            index.advance(frontier: frontier)
            self.index = index
            if let last = departures.last { self.cursor = last.id }
            self.settings = settings
            self.lastNowMs = nowMs
            hasMore = departures.count >= batchSize
        case .rebuilt(let frontier, let maxOrder, let settings, let nowMs, let cursor, let waiting):
            self.index = PositionIndex(frontier: max(frontier, previousFrontier), maxOrder: maxOrder, waiting: waiting)
            self.cursor = cursor
            self.settings = settings
            self.lastNowMs = nowMs
        }
        let index = self.index!
        self.noteReached(frontier: index.frontier, atMs: self.lastNowMs)
        if self.settings.paused || !wasLoaded {
            self.rate.suspend()
        } else {
            let advanced = index.frontier - previousFrontier
            let admitted = advanced - index.departures(after: previousFrontier, through: index.frontier)
            self.rate.record(admitted: admitted, at: now)
        }
        var changes: [EventTrackerUpdate.Change] = []
        if wasLoaded {
            if self.settings.paused != previousSettings.paused {
                changes.append(self.settings.paused ? .paused : .resumed)
            }
            if self.settings.soldOut && !previousSettings.soldOut { changes.append(.soldOut) }
            if self.settings != previousSettings { changes.append(.settings) }
        }
        return Applied(previousFrontier: previousFrontier, frontier: index.frontier, changes: changes, hasMore: hasMore, needsRebuild: false)
    }

    /// The status of `order` as this edge sees it.
    public func status(order: Int) -> OrderStatus {
        guard let index = self.index else { return .unknown }
        if index.isDeparted(order) { return .departed }
        if let position = index.position(order: order) {
            return .waiting(position: position, etaSeconds: self.rate.etaSeconds(position: position, configured: self.settings.ratePerSecond))
        }
        let expiresAtMs = self.reachedAt(order: order) + Int64(self.settings.sessionSeconds) * 1000
        return .admitted(expiresAtMs: expiresAtMs)
    }

    /// When the frontier first reached `order` (unix ms), as far as this edge knows.
    public func reachedAt(order: Int) -> Int64 {
        var low = 0
        var high = self.reached.count
        while low < high {
            let middle = (low + high) / 2
            if self.reached[middle].frontier < order { low = middle + 1 } else { high = middle }
        }
        return low < self.reached.count ? self.reached[low].atMs : self.lastNowMs
    }

    private mutating func noteReached(frontier: Int, atMs: Int64) {
        guard frontier > (self.reached.last?.frontier ?? 0) else { return }
        self.reached.append((frontier, atMs))
        if self.reached.count > self.maxReached {
            self.reached.removeFirst(self.reached.count - self.maxReached / 2)
        }
    }
}
