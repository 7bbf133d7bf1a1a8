/// Exact queue positions from a frontier and the set of departed orders (see
/// `docs/waitroom-queue.md`): a pure value type, no I/O.
///
/// Orders are dense (`1…maxOrder`). The frontier `F` is the largest order ever admitted, so every
/// order `≤ F` is admitted or departed. A waiting order `o` is at position
/// `o − F − D(F, o)`, where `D(F, o)` counts departed orders in the open interval `(F, o)`.
public struct PositionIndex: Sendable, Equatable {
    /// The largest order ever admitted.
    public private(set) var frontier: Int
    /// How many distinct departed orders are known.
    public private(set) var departedCount: Int
    private var departed: FenwickTree

    /// An index with frontier `frontier` and no departures.
    public init(frontier: Int = 0) {
        self.frontier = max(0, frontier)
        self.departedCount = 0
        self.departed = FenwickTree()
    }

    /// An index rebuilt from the waiting orders: every order in `(frontier, maxOrder]` that is not
    /// in `waiting` is departed (departures at or below the frontier never matter again).
    public init(frontier: Int, maxOrder: Int, waiting: some Sequence<Int>) {
        let frontier = max(0, frontier)
        var counts = [Int32](repeating: 0, count: max(0, maxOrder))
        if maxOrder > frontier {
            for order in (frontier + 1)...maxOrder { counts[order - 1] = 1 }
        }
        for order in waiting where order > frontier && order <= maxOrder {
            counts[order - 1] = 0
        }
        self.frontier = frontier
        self.departed = FenwickTree(counts: counts)
        self.departedCount = self.departed.prefixSum(through: Int.max)
    }

    /// Whether `order` is known to have departed.
    public func isDeparted(_ order: Int) -> Bool {
        order >= 1 && self.departed.value(at: order) > 0
    }

    /// Whether `order` has been admitted: at or below the frontier and not departed.
    public func isAdmitted(_ order: Int) -> Bool {
        order >= 1 && order <= self.frontier && !self.isDeparted(order)
    }

    /// The position (1 = next) of a waiting order; `nil` if it is admitted or departed.
    public func position(order: Int) -> Int? {
        guard order > self.frontier, !self.isDeparted(order) else { return nil }
        return order - self.frontier - self.departed.sum(from: self.frontier + 1, through: order - 1)
    }

    /// How many of the orders in `(lower, upper]` departed.
    public func departures(after lower: Int, through upper: Int) -> Int {
        self.departed.sum(from: max(1, lower + 1), through: upper)
    }

    /// Records departed orders; repeats and non-positive orders are ignored. Returns how many were new.
    @discardableResult
    public mutating func apply(departures orders: some Sequence<Int>) -> Int {
        var added = 0
        for order in orders where order >= 1 && !self.isDeparted(order) {
            self.departed.add(1, at: order)
            added += 1
        }
        self.departedCount += added
        return added
    }

    /// Moves the frontier forward; it never moves back.
    public mutating func advance(frontier: Int) {
        self.frontier = max(self.frontier, frontier)
    }
}
