import NIOCore
import NIOHTTP1

/// An error answer of the API: a status, a snake_case code and a human message.
///
/// Thrown from a handler (or produced from any ``HTTPErrorConvertible``), it becomes
/// `{"error": {"code": "...", "message": "..."}}` with `Content-Type: application/json`.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// A machine-readable error code (snake_case), e.g. `not_found`.
    public struct Code: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        /// The snake_case text of the code.
        public var rawValue: String
        /// Creates a code from its snake_case text.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Creates a code from a string literal.
        public init(stringLiteral value: String) { self.rawValue = value }
        /// The snake_case text of the code.
        public var description: String { self.rawValue }

        /// `400`: the request could not be parsed or is invalid.
        public static let badRequest: Code = "bad_request"
        /// `400`: a path id does not match `[A-Za-z0-9_-]{1,64}`.
        public static let invalidID: Code = "invalid_id"
        /// `400`: the body is not the JSON expected.
        public static let invalidJSON: Code = "invalid_json"
        /// `404`: no route for the path.
        public static let notFound: Code = "not_found"
        /// `405`: the path exists but not with this method.
        public static let methodNotAllowed: Code = "method_not_allowed"
        /// `408`: the request did not arrive in time.
        public static let requestTimeout: Code = "request_timeout"
        /// `413`: the body is over the configured limit.
        public static let payloadTooLarge: Code = "payload_too_large"
        /// `431`: the request head is over the configured limit.
        public static let headerFieldsTooLarge: Code = "request_header_fields_too_large"
        /// `500`: an unexpected failure; details are logged, never sent.
        public static let internalError: Code = "internal_error"
        /// `503`: a dependency (Redis, PostgreSQL, ...) is down.
        public static let dependencyUnavailable: Code = "dependency_unavailable"
        /// `503`: the server is draining for shutdown.
        public static let shuttingDown: Code = "shutting_down"
    }

    /// The HTTP status of the answer.
    public var status: HTTPResponseStatus
    /// The machine-readable code.
    public var code: Code
    /// The human-readable message; sent to the client, so never put secrets or internals here.
    public var message: String
    /// Extra headers for the answer, e.g. `Retry-After` or `Allow`.
    public var headers: HTTPHeaders

    /// Creates an error answer.
    public init(_ status: HTTPResponseStatus, code: Code, message: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// A textual form for logs.
    public var description: String { "HTTPError(\(self.status.code) \(self.code): \(self.message))" }
}

extension HTTPError {
    /// `400 bad_request`.
    public static func badRequest(_ message: String = "The request is malformed.") -> HTTPError {
        HTTPError(.badRequest, code: .badRequest, message: message)
    }

    /// `404 not_found`.
    public static func notFound(_ message: String = "No such resource.") -> HTTPError {
        HTTPError(.notFound, code: .notFound, message: message)
    }

    /// `400 invalid_id` naming the offending path parameter.
    public static func invalidID(parameter: String) -> HTTPError {
        HTTPError(.badRequest, code: .invalidID, message: "\(parameter) must match [A-Za-z0-9_-]{1,64}.")
    }

    /// `405 method_not_allowed` with the `Allow` header listing the allowed methods.
    public static func methodNotAllowed(allowed: [HTTPMethod]) -> HTTPError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return HTTPError(
            .methodNotAllowed,
            code: .methodNotAllowed,
            message: "Method not allowed; allowed: \(allow).",
            headers: ["Allow": allow]
        )
    }

    /// `413 payload_too_large`.
    public static func payloadTooLarge(limit: Int) -> HTTPError {
        HTTPError(.payloadTooLarge, code: .payloadTooLarge, message: "The request body is over \(limit) bytes.")
    }

    /// `408 request_timeout`.
    public static let requestTimeout = HTTPError(
        .requestTimeout,
        code: .requestTimeout,
        message: "The request did not arrive in time."
    )

    /// `431 request_header_fields_too_large`.
    public static let headerFieldsTooLarge = HTTPError(
        .requestHeaderFieldsTooLarge,
        code: .headerFieldsTooLarge,
        message: "The request head is too large."
    )

    /// `500 internal_error`, with no details.
    public static let internalError = HTTPError(
        .internalServerError,
        code: .internalError,
        message: "An internal error occurred."
    )

    /// `503 dependency_unavailable` with `Retry-After`.
    public static func dependencyUnavailable(_ message: String, retryAfterSeconds: Int) -> HTTPError {
        HTTPError(
            .serviceUnavailable,
            code: .dependencyUnavailable,
            message: message,
            headers: ["Retry-After": String(retryAfterSeconds)]
        )
    }
}
