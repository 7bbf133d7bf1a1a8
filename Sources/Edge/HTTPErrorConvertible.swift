/// An error that knows its API answer.
///
/// Domain modules conform their errors to this protocol (e.g. a dependency-unavailable error
/// becomes `503 dependency_unavailable` with `Retry-After`); the edge maps thrown errors in one
/// place (``HTTPError/init(mapping:)``). Errors that conform to neither this protocol nor are an
/// ``HTTPError`` become `500 internal_error`.
public protocol HTTPErrorConvertible: Error {
    /// The answer sent to the client for this error.
    var httpError: HTTPError { get }
}

extension HTTPError: HTTPErrorConvertible {
    /// The error itself.
    public var httpError: HTTPError { self }
}

extension HTTPError {
    /// Maps any thrown error to its API answer: the one place where that happens.
    ///
    /// ``HTTPErrorConvertible`` errors (including ``HTTPError``) give their own answer; anything
    /// else gives `500 internal_error` without details (the caller logs the original error).
    public init(mapping error: any Error) {
        if let convertible = error as? any HTTPErrorConvertible {
            self = convertible.httpError
        } else {
            self = .internalError
        }
    }
}
