#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1

/// A response produced by a route handler.
///
/// The server adds `Content-Length` (for buffered bodies), `X-Request-Id` and `Connection`; set
/// any other header, including `Content-Type`, here or through the helpers.
public struct HTTPResponse: Sendable {
    /// The body of a response.
    public enum Body: Sendable {
        /// No body (`Content-Length: 0`, or none for `204`/`304`).
        case empty
        /// A complete body.
        case buffer(ByteBuffer)
        /// A body written incrementally after the head (e.g. Server-Sent Events); see
        /// ``HTTPResponseStream``.
        case stream(HTTPResponseStream)
    }

    /// The status.
    public var status: HTTPResponseStatus
    /// The headers.
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body

    /// Creates a response.
    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with the given status and no body, e.g. `204`.
    public static func status(_ status: HTTPResponseStatus, headers: HTTPHeaders = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers)
    }

    /// A JSON response encoding `value` with `JSONEncoder`.
    public static func json<Value: Encodable>(
        _ value: Value,
        status: HTTPResponseStatus = .ok,
        headers: HTTPHeaders = [:]
    ) throws -> HTTPResponse {
        let data = try JSONEncoder().encode(value)
        var buffer = ByteBuffer()
        buffer.writeBytes(data)
        return .json(raw: buffer, status: status, headers: headers)
    }

    /// A JSON response from already encoded JSON text.
    public static func json(raw: ByteBuffer, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: .buffer(raw))
    }

    /// A JSON response from already encoded JSON text.
    public static func json(raw: String, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        .json(raw: ByteBuffer(string: raw), status: status, headers: headers)
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: .buffer(ByteBuffer(string: text)))
    }

    /// A `text/html; charset=utf-8` response.
    public static func html(_ html: String, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/html; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: .buffer(ByteBuffer(string: html)))
    }

    /// The API's error answer for `error`: `{"error": {"code", "message"}}` plus its headers.
    public static func error(_ error: HTTPError) -> HTTPResponse {
        .json(
            raw: JSONText.errorBody(code: error.code.rawValue, message: error.message),
            status: error.status,
            headers: error.headers
        )
    }

    /// A streamed response: the head is written, then `stream` takes over the body.
    public static func stream(
        status: HTTPResponseStatus = .ok,
        headers: HTTPHeaders = [:],
        _ stream: HTTPResponseStream
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(stream))
    }
}
