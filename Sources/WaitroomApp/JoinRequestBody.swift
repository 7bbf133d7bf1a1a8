import Edge
import FastJSON
import NIOCore

/// The body of `POST /v1/events/{eventId}/queue`: `{"userId": "u-123"}`, `userId` optional.
///
/// Read with `FastJSON` (a whole parser, no `Decodable` machinery). What it accepts, `JSONDecoder`
/// read the same; what the decoder refused, it refuses with the same status and code; it also
/// refuses what is not JSON but the decoder let through (a bad escape in a member it skips, a
/// trailing comma). The tests check this against the decoder on random bodies, which is what
/// `Decodable` stays for. A repeated `userId`: the last.
struct JoinRequestBody: Decodable, Sendable {
    var userId: String?

    /// The most bytes a `userId` may have.
    static let maxUserIdBytes = 128

    /// The `userId` of `body` (`nil` for an empty body or none given).
    /// Throws `400 invalid_json` for a body that is not such an object and `422 invalid_user_id`
    /// for an empty or too long `userId`.
    static func userId(from body: ByteBuffer) throws(HTTPError) -> String? {
        guard body.readableBytes > 0 else { return nil }
        let json: JSONValue
        do {
            json = try JSONValue.parse(body.readableBytesView)
        } catch {
            throw HTTPRequest.notExpectedJSON
        }
        let mustBeAnObject = HTTPError(.badRequest, code: .invalidJSON, message: "The body must be an object whose userId is a string.")
        guard case .object = json else { throw mustBeAnObject }
        let userId: String?
        switch json["userId"] {
        case .string(let value)?: userId = value
        case nil, .null?: userId = nil
        default: throw mustBeAnObject
        }
        if let userId, !(1...maxUserIdBytes).contains(userId.utf8.count) {
            throw HTTPError(.unprocessableEntity, code: "invalid_user_id", message: "userId must have 1 to \(maxUserIdBytes) bytes")
        }
        return userId
    }
}
