/// A Fenwick (binary indexed) tree of small counts over indices `1…`, growing on demand.
///
/// Used to count departed orders: ``add(_:at:)`` and ``prefixSum(through:)`` are O(log n).
/// Storage is one `Int32` per index, rounded up to a power of two, so 1M orders cost 4 MiB.
/// Growing keeps every existing sum: with a power-of-two size `n`, the new nodes `n+1…2n-1`
/// cover only new (zero) indices and node `2n` covers everything, so it gets the old total.
public struct FenwickTree: Sendable, Equatable {
    /// Node `i` (1-based) holds the sum of indices `(i - lowbit(i)) + 1 … i`; `nodes[0]` is unused.
    private var nodes: [Int32]

    /// An empty tree with room for indices `1…capacity` (it grows past that on demand).
    public init(capacity: Int = 0) {
        self.nodes = [0, 0]
        self.reserve(through: capacity)
    }

    /// A tree holding `counts[i - 1]` at index `i`, built in O(n).
    public init(counts: [Int32]) {
        var size = 1
        while size < counts.count { size <<= 1 }
        var nodes = [Int32](repeating: 0, count: size + 1)
        for (offset, count) in counts.enumerated() { nodes[offset + 1] = count }
        var index = 1
        while index <= size {
            let parent = index + (index & -index)
            if parent <= size { nodes[parent] &+= nodes[index] }
            index += 1
        }
        self.nodes = nodes
    }

    /// The largest index the tree can hold without growing.
    public var capacity: Int { self.nodes.count - 1 }

    /// Grows (by doubling) until index `index` fits.
    public mutating func reserve(through index: Int) {
        var size = self.capacity
        guard index > size else { return }
        while size < index {
            let total = self.prefixSum(through: size)
            self.nodes.append(contentsOf: repeatElement(0, count: size))
            size <<= 1
            self.nodes[size] = Int32(truncatingIfNeeded: total)
        }
    }

    /// Adds `delta` at `index` (`index >= 1`), growing the tree if needed.
    public mutating func add(_ delta: Int32, at index: Int) {
        precondition(index >= 1, "Fenwick indices start at 1")
        self.reserve(through: index)
        let size = self.capacity
        var node = index
        while node <= size {
            self.nodes[node] &+= delta
            node += node & -node
        }
    }

    /// The sum of indices `1…index`; `0` for `index < 1`, the total for indices past the end.
    public func prefixSum(through index: Int) -> Int {
        var node = min(index, self.capacity)
        var sum = 0
        while node > 0 {
            sum += Int(self.nodes[node])
            node -= node & -node
        }
        return sum
    }

    /// The sum of indices in `lower…upper` (empty when `upper < lower`).
    public func sum(from lower: Int, through upper: Int) -> Int {
        guard upper >= lower else { return 0 }
        return self.prefixSum(through: upper) - self.prefixSum(through: lower - 1)
    }

    /// The count at one index.
    public func value(at index: Int) -> Int {
        self.sum(from: index, through: index)
    }
}
