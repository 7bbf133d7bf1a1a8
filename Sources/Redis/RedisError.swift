/// An error of the Redis client: a ``Code`` to branch on and a human message.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of error this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: Hashable, Sendable {
            case connectionClosed, timeout, unavailable, protocolError, invalidURL, clientClosed, server
        }
        fileprivate let base: Base
        /// For ``server(_:)``: the error prefix Redis sent, e.g. `WRONGTYPE`, `NOSCRIPT`, `ERR`.
        public let serverKind: String?

        private init(_ base: Base, serverKind: String? = nil) {
            self.base = base
            self.serverKind = serverKind
        }

        /// The connection closed (or broke) while the command was in flight or being sent.
        public static let connectionClosed = Code(.connectionClosed)
        /// The command (or the connect) did not complete in time.
        public static let timeout = Code(.timeout)
        /// No connection to Redis right now (connecting failed, waiting to reconnect): fail fast.
        public static let unavailable = Code(.unavailable)
        /// The bytes from Redis were not valid RESP; the connection was closed.
        public static let protocolError = Code(.protocolError)
        /// A `redis://` URL could not be parsed.
        public static let invalidURL = Code(.invalidURL)
        /// The client was closed by ``RedisClient/close()``.
        public static let clientClosed = Code(.clientClosed)
        /// Redis answered with an error reply whose first word is `kind`.
        public static func server(_ kind: String) -> Code { Code(.server, serverKind: kind) }

        /// `true` for any ``server(_:)`` code.
        public var isServer: Bool { base == .server }

        public var description: String {
            switch base {
            case .connectionClosed: return "connectionClosed"
            case .timeout: return "timeout"
            case .unavailable: return "unavailable"
            case .protocolError: return "protocolError"
            case .invalidURL: return "invalidURL"
            case .clientClosed: return "clientClosed"
            case .server: return "server(\(serverKind ?? ""))"
            }
        }
    }

    /// The kind of error.
    public var code: Code
    /// A human-readable explanation.
    public var message: String

    /// Makes an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// An error from a Redis error reply: the code is `.server(first word)`.
    public init(serverMessage: String) {
        let kind = serverMessage.prefix { $0 != " " }
        self.init(code: .server(kind.isEmpty ? "ERR" : String(kind)), message: serverMessage)
    }

    public var description: String { "RedisError(\(code)): \(message)" }
}
