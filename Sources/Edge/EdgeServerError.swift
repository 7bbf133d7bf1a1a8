/// Misuse of an ``EdgeServer``'s lifecycle.
public struct EdgeServerError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable {
        case alreadyStarted
    }

    private let base: Base

    /// `start()` or `run()` was called on a server that was already started (servers are one-shot).
    public static let alreadyStarted = EdgeServerError(base: .alreadyStarted)

    /// A textual form for logs.
    public var description: String {
        switch self.base {
        case .alreadyStarted: return "EdgeServerError.alreadyStarted"
        }
    }
}
