import Foundation
import Inventory
import NIOCore
import NIOHTTP1
import NIOPosix
import WaitroomApp

/// The admin HTTP API (`/v1/admin/…`) as typed calls. Every failure is an ``AdminError``: the
/// API's error code and status when the server refused, `unreachable` when it did not answer.
public struct AdminClient: Sendable {
    /// What `PUT /v1/admin/events/{eventId}` did.
    public struct Applied: Sendable, Equatable {
        /// `true` for `201` (a new event), `false` for `200` (an update).
        public var created: Bool
        /// The event as the server now has it.
        public var event: EventDefinition
    }

    public let target: AdminTarget
    public let timeout: TimeAmount
    private let http: HTTPPoster

    public init(target: AdminTarget, timeout: TimeAmount = .seconds(5),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.target = target
        self.timeout = timeout
        self.http = HTTPPoster(group: group)
    }

    /// Creates or updates the event `id`.
    public func apply(eventID id: String, _ body: AdminEventBody) async throws(AdminError) -> Applied {
        let (status, answer) = try await call(.PUT, "/v1/admin/events/\(id)", body: try encode(body))
        return Applied(created: status == 201, event: try decode(EventDefinition.self, answer))
    }

    /// The event `id` as the server has it.
    public func event(_ id: String) async throws(AdminError) -> EventDefinition {
        try decode(EventDefinition.self, try await call(.GET, "/v1/admin/events/\(id)").body)
    }

    /// Changes admission settings of `id`; answers the settings now in force.
    public func admission(_ id: String, _ patch: AdmissionPatch) async throws(AdminError) -> AdmissionPatch.Response {
        let answer = try await call(.PATCH, "/v1/admin/events/\(id)/admission", body: try encode(patch)).body
        return try decode(AdmissionPatch.Response.self, answer)
    }

    /// The live numbers of `id`, decoded, and the JSON text the server sent.
    public func stats(_ id: String) async throws(AdminError) -> (stats: EventStatsBody, json: [UInt8]) {
        let answer = try await call(.GET, "/v1/admin/events/\(id)/stats").body
        return (try decode(EventStatsBody.self, answer), answer)
    }

    /// One request; a status outside 2xx becomes the API's error.
    private func call(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws(AdminError) -> (status: Int, body: [UInt8]) {
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await http.send(method, target.server + path, body: body,
                                         headers: [("Authorization", "Bearer \(target.token)"), ("Accept", "application/json")],
                                         timeout: timeout)
        } catch {
            throw AdminError(.unreachable, "cannot reach \(target.server): \(Self.describe(error, timeout: timeout))")
        }
        guard (200..<300).contains(answer.status) else { throw Self.refusal(status: answer.status, body: answer.body) }
        return answer
    }

    /// The API's error shape `{"error": {"code", "message"}}` as an ``AdminError``; any other
    /// body (a proxy's page, say) is quoted briefly.
    static func refusal(status: Int, body: [UInt8]) -> AdminError {
        struct Shape: Decodable {
            struct Inner: Decodable { var code: String; var message: String }
            var error: Inner
        }
        if let shape = try? JSONDecoder().decode(Shape.self, from: Data(body)) {
            return AdminError(.api(status: status, code: shape.error.code), shape.error.message)
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return AdminError(.api(status: status, code: "http_\(status)"), text.isEmpty ? "no error body" : text)
    }

    /// `Connection refused`, `no answer within 5 s`, … rather than NIO's full error value.
    static func describe(_ error: any Error, timeout: TimeAmount) -> String {
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "no answer within \(Double(timeout.nanoseconds) / 1e9) s"
        }
        var error = error
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first?.error {
                error = first
            } else if let dns = connection.dnsAError ?? connection.dnsAAAAError {
                return "cannot resolve \(connection.host): \(dns)"
            }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let bad = error as? HTTPPoster.BadURL { return bad.description }
        if let channel = error as? ChannelError, case .eof = channel { return "the connection closed before an answer" }
        return "\(error)"
    }

    private func encode(_ value: some Encodable) throws(AdminError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw AdminError(.invalidInput, "cannot encode the request: \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws(AdminError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: Data(body))
        } catch {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            throw AdminError(.badResponse, "the server's answer is not the expected \(type): \(error) in \(text)")
        }
    }
}
