import Edge
import NIOCore
import NIOHTTP1
import Testing
@testable import WaitroomApp

@Suite struct AdminAuthenticatorTests {
    private func request(_ authorization: String?) -> HTTPRequest {
        var headers = HTTPHeaders()
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        return HTTPRequest(method: .GET, uri: "/v1/admin/events/x", version: .http1_1, headers: headers,
                           body: ByteBuffer(), pathParameters: PathParameters())
    }

    private func code(_ auth: AdminAuthenticator, _ header: String?) -> String? {
        do { try auth.authorize(request(header)); return nil } catch { return error.code.rawValue }
    }

    @Test func rightTokenPasses() {
        let auth = AdminAuthenticator(token: "s3cret-admin-token-123")
        #expect(code(auth, "Bearer s3cret-admin-token-123") == nil)
    }

    @Test func wrongMissingOrMalformedIsUnauthorized() {
        let auth = AdminAuthenticator(token: "s3cret-admin-token-123")
        #expect(code(auth, "Bearer s3cret-admin-token-124") == "unauthorized")
        #expect(code(auth, "Bearer s3cret-admin-token-12") == "unauthorized")
        #expect(code(auth, "Bearer ") == "unauthorized")
        #expect(code(auth, "Basic s3cret-admin-token-123") == "unauthorized")
        #expect(code(auth, "s3cret-admin-token-123") == "unauthorized")
        #expect(code(auth, nil) == "unauthorized")
    }

    @Test func noConfiguredTokenRefusesAll() {
        let auth = AdminAuthenticator(token: nil)
        #expect(code(auth, "Bearer anything-at-all-here") == "admin_disabled")
        #expect(code(auth, nil) == "admin_disabled")
    }
}
