import NIOHTTP1

/// One request of an on-sale user, as `UserConnection` sends it.
struct UserRequest {
    var method: HTTPMethod
    var path: String
    var json: String?
    /// `Authorization: Bearer` value (the admission token).
    var token: String?
    var idempotencyKey: String?
    /// An SSE request: the body is parsed as events and handed over one by one.
    var stream = false
    var lastEventID: String?
}
