/// An error of the token layer.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let invalidKey = Code(name: "invalid_key")
        public static let malformed = Code(name: "malformed")
        public static let badSignature = Code(name: "bad_signature")
        public static let expired = Code(name: "expired")
        public static let wrongScope = Code(name: "wrong_scope")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "TokenError(\(code)): \(message)" }
}
