import Foundation

/// A value guarded by an `NSLock`; the only way to reach it is `withLock`.
final class Locked<Value>: @unchecked Sendable {
    // `value` is only accessed while holding `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
