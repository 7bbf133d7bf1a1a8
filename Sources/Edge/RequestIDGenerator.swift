import Synchronization

/// Cheap unique request ids: a random per-process prefix and an atomic counter.
final class RequestIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        self.prefix = String(UInt32.random(in: .min ... .max), radix: 16)
    }

    func next() -> String {
        let value = self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(self.prefix)-\(String(value, radix: 16))"
    }

    /// Whether a client-sent `X-Request-Id` is safe to adopt (and to log).
    static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}
