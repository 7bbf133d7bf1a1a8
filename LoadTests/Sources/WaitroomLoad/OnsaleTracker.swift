import Foundation

/// What the coordinator of an on-sale run learns from the server while it runs. Written by the
/// once-a-second callback, read at the end.
///
/// `@unchecked Sendable`: every access holds `lock`.
final class OnsaleTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var _samples: [ServerSample] = []
    private var _admissionStart: Double?
    private var _soldOutAt: Double?
    private var _rampDoneAt: Double?
    private var _resumed = false

    private func locked<T>(_ body: () -> T) -> T {
        self.lock.lock()
        defer { self.lock.unlock() }
        return body()
    }

    func add(_ sample: ServerSample) { self.locked { self._samples.append(sample) } }
    var samples: [ServerSample] { self.locked { self._samples } }
    var admissionStart: Double? {
        get { self.locked { self._admissionStart } }
        set { self.locked { self._admissionStart = newValue } }
    }
    var soldOutAt: Double? {
        get { self.locked { self._soldOutAt } }
        set { self.locked { self._soldOutAt = newValue } }
    }
    var rampDoneAt: Double? {
        get { self.locked { self._rampDoneAt } }
        set { self.locked { self._rampDoneAt = newValue } }
    }
    var resumed: Bool {
        get { self.locked { self._resumed } }
        set { self.locked { self._resumed = newValue } }
    }
}
