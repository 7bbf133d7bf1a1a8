import Edge
import NIOHTTP1
import Tokens

/// Checks `Authorization: Bearer <admin token>` in constant time. With no token configured,
/// every admin call is refused.
struct AdminAuthenticator: Sendable {
    let token: [UInt8]?

    init(token: String?) {
        self.token = token.map { Array($0.utf8) }
    }

    func authorize(_ request: HTTPRequest) throws(HTTPError) {
        guard let token else {
            throw HTTPError(.forbidden, code: "admin_disabled", message: "the admin API is disabled: no admin token is configured")
        }
        // The scheme is case-insensitive (RFC 9110), as for the admission token.
        guard let header = request.headers.first(name: "Authorization"), header.utf8.count > 7,
              header.prefix(7).lowercased() == "bearer " else {
            throw HTTPError(.unauthorized, code: "unauthorized", message: "admin token required",
                            headers: ["WWW-Authenticate": "Bearer"])
        }
        let presented = Array(header.utf8.dropFirst(7))
        // Compare digests so that the time taken does not even depend on the presented length.
        guard Crypto.constantTimeEquals(Crypto.sha256(presented), Crypto.sha256(token)) else {
            throw HTTPError(.unauthorized, code: "unauthorized", message: "invalid admin token",
                            headers: ["WWW-Authenticate": "Bearer"])
        }
    }
}
