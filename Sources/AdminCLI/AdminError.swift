/// Why an admin command failed: what to print and which exit code to end with.
public struct AdminError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The server answered with an error: its HTTP status and the API's error code.
        case api(status: Int, code: String)
        /// The event file cannot be read, parsed or is not a valid event.
        case invalidFile
        /// A setting given on the command line is out of range (the server's own rules).
        case invalidInput
        /// No answer: the server cannot be reached or did not answer in time.
        case unreachable
        /// The server answered something that is not the API's shape.
        case badResponse
        /// No admin token in the environment (or the token file).
        case noToken
        /// `--server` / `WAITROOM_ADMIN_URL` is not an `http://host:port` URL.
        case badServer
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The process's exit code: 1 the server refused, 2 bad input, 3 unreachable or a bad
    /// answer, 4 no token (argument-parser's usage errors are 64).
    public var exitCode: Int32 {
        switch code {
        case .api: 1
        case .invalidFile, .invalidInput, .badServer: 2
        case .unreachable, .badResponse: 3
        case .noToken: 4
        }
    }

    /// Whether a live view should keep trying: the server may come back (5xx, no answer).
    public var isTransient: Bool {
        switch code {
        case .api(let status, _): status >= 500
        case .unreachable: true
        default: false
        }
    }

    /// One line for the terminal, e.g. `unauthorized (HTTP 401): invalid admin token`.
    public var description: String {
        switch code {
        case .api(let status, let code): "\(code) (HTTP \(status)): \(message)"
        default: message
        }
    }
}
