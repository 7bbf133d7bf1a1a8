import Synchronization

/// Counts this process's open streams per place, so that the queue hears `connect` for the first
/// stream of a place and `disconnect` for its last (two tabs of one place are one presence).
final class StreamPresence: Sendable {
    private struct Key: Hashable { let event: String; let order: Int }
    private let counts = Mutex<[Key: Int]>([:])

    /// True when this is the first open stream of the place.
    func open(event: String, order: Int) -> Bool {
        counts.withLock { all in
            let key = Key(event: event, order: order)
            all[key, default: 0] += 1
            return all[key] == 1
        }
    }

    /// True when this was the last open stream of the place.
    func close(event: String, order: Int) -> Bool {
        counts.withLock { all in
            let key = Key(event: event, order: order)
            guard let n = all[key] else { return false }
            if n <= 1 { all[key] = nil; return true }
            all[key] = n - 1
            return false
        }
    }
}
