import LoadKit
import NIOCore

/// What the users of one `onsale-worker` share: the loop, where to connect, the counters, and
/// which ticket classes recently ran out. Confined to the worker's event loop.
final class OnsaleUsers {
    let loop: EventLoop
    let connector: Connector
    let counters: OnsaleCounters
    let options: OnsaleOptions
    let hostHeader: String
    let classes: [String]
    /// Called when a user reaches an end state.
    var userFinished: () -> Void = {}
    /// When a class last refused a single ticket (monotonic seconds).
    private var exhaustedAt: [String: Double] = [:]

    /// A class that refused a single ticket counts as out of stock for this long: declined
    /// payments and expired holds put tickets back, and someone must still find them.
    static let exhaustedFor = 2.0

    init(loop: EventLoop, connector: Connector, counters: OnsaleCounters, options: OnsaleOptions, hostHeader: String) {
        self.loop = loop
        self.connector = connector
        self.counters = counters
        self.options = options
        self.hostHeader = hostHeader
        self.classes = options.classList
    }

    /// Notes that `classID` had not even one ticket left.
    func markExhausted(_ classID: String) { self.exhaustedAt[classID] = WallClock.monotonicSeconds() }

    /// A random class not in `tried`, preferring those not seen exhausted lately; `nil` when every class was tried.
    func pickClass(excluding tried: Set<String>) -> String? {
        let now = WallClock.monotonicSeconds()
        let untried = self.classes.filter { !tried.contains($0) }
        let fresh = untried.filter { now - (self.exhaustedAt[$0] ?? -.infinity) > Self.exhaustedFor }
        return (fresh.isEmpty ? untried : fresh).randomElement()
    }
}
