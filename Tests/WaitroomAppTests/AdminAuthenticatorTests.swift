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

    /// Wrong tokens of every length are refused alike: shorter, longer, much longer, empty,
    /// a prefix or an extension of the right one, other bytes.
    @Test(arguments: [
        "", " ", "s", "s3cret-admin-token-12", "s3cret-admin-token-1234", "s3cret-admin-token-123 ",
        " s3cret-admin-token-123", "S3CRET-ADMIN-TOKEN-123", "s3cret-admin-token-123\u{0}", "x3cret-admin-token-123",
        String(repeating: "s3cret-admin-token-123", count: 500), String(repeating: "a", count: 70_000), "ş3cret-admin-token-123",
    ])
    func wrongTokensOfAnyLengthAreRefused(presented: String) {
        let auth = AdminAuthenticator(token: "s3cret-admin-token-123")
        #expect(code(auth, "Bearer " + presented) == "unauthorized")
    }

    @Test func theSchemeIsCaseInsensitive() {
        let auth = AdminAuthenticator(token: "s3cret-admin-token-123")
        #expect(code(auth, "bearer s3cret-admin-token-123") == nil)
        #expect(code(auth, "BEARER s3cret-admin-token-123") == nil)
        #expect(code(auth, "Bearer") == "unauthorized")
        #expect(code(auth, "Bearers3cret-admin-token-123") == "unauthorized")
    }

    @Test func aLongConfiguredTokenMatchesOnlyItself() {
        let token = String(repeating: "0123456789abcdef", count: 64)
        let auth = AdminAuthenticator(token: token)
        #expect(code(auth, "Bearer " + token) == nil)
        #expect(code(auth, "Bearer " + token.dropLast()) == "unauthorized")
        #expect(code(auth, "Bearer " + token + "0") == "unauthorized")
        #expect(code(auth, "Bearer " + String(token.dropFirst()) + "0") == "unauthorized")
    }

    @Test func noConfiguredTokenRefusesAll() {
        let auth = AdminAuthenticator(token: nil)
        #expect(code(auth, "Bearer anything-at-all-here") == "admin_disabled")
        #expect(code(auth, nil) == "admin_disabled")
    }
}
