import FastJSON
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1

/// A complete request as seen by a route handler (the body is fully received, within the limit).
public struct HTTPRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The request target as sent, e.g. `/v1/events/e1/queue?x=1`.
    public var uri: String
    /// The path part of the target, without the query, not percent-decoded.
    public var path: Substring
    /// The raw query string without `?`, if any.
    public var query: Substring?
    /// The HTTP version.
    public var version: HTTPVersion
    /// The request headers.
    public var headers: HTTPHeaders
    /// The request body (empty when none was sent).
    public var body: ByteBuffer
    /// The values of the route's `{name}` segments.
    public var pathParameters: PathParameters

    /// Creates a request (the server does this; tests of handlers may too).
    public init(
        method: HTTPMethod,
        uri: String,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = [:],
        body: ByteBuffer = ByteBuffer(),
        pathParameters: PathParameters = PathParameters()
    ) {
        let (path, query) = HTTPRequest.splitTarget(uri)
        self.init(method: method, uri: uri, path: path, query: query, version: version, headers: headers,
                  body: body, pathParameters: pathParameters)
    }

    /// Creates a request whose target is already split (the server's hot path).
    init(
        method: HTTPMethod,
        uri: String,
        path: Substring,
        query: Substring?,
        version: HTTPVersion,
        headers: HTTPHeaders,
        body: ByteBuffer,
        pathParameters: PathParameters
    ) {
        self.method = method
        self.uri = uri
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.pathParameters = pathParameters
    }

    /// The decoded query items, in order.
    public var queryItems: [QueryItem] {
        guard let query else { return [] }
        return QueryItem.parse(query)
    }

    /// The first decoded value of the query item `name`.
    public func queryValue(_ name: String) -> String? {
        self.queryItems.first { $0.name == name }?.value
    }

    /// Decodes the body as JSON; a body that does not decode is `400 invalid_json`.
    public func decodeJSON<Value: Decodable>(_ type: Value.Type = Value.self) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(self.body.readableBytesView))
        } catch {
            throw Self.notExpectedJSON
        }
    }

    /// The body as a JSON tree (`FastJSON`), for handlers that read a few members by hand;
    /// not JSON is the same `400 invalid_json` as `decodeJSON`.
    public func parseJSON() throws -> JSONValue {
        do {
            return try JSONValue.parse(self.body.readableBytesView)
        } catch {
            throw Self.notExpectedJSON
        }
    }

    /// `400 invalid_json`: the answer to a body that is not the JSON a route expects.
    public static let notExpectedJSON = HTTPError(.badRequest, code: .invalidJSON, message: "The body is not the JSON expected.")

    /// Splits a request target into path and query; absolute-form targets lose scheme and authority.
    static func splitTarget(_ uri: String) -> (path: Substring, query: Substring?) {
        var target = Substring(uri)
        if !target.hasPrefix("/"), let colon = target.firstIndex(of: ":"), target[colon...].hasPrefix("://") {
            let afterScheme = target[target.index(colon, offsetBy: 3)...]
            target = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            return (target[..<question], target[target.utf8.index(after: question)...])
        }
        return (target, nil)
    }
}
