import Testing
@testable import Tokens

@Suite struct SignedTokenTests {
    let ring = SigningKeyring.random()

    @Test func roundTrip() throws {
        let t = SignedToken(purpose: .admission, eventID: "e-1", sequence: 42, expiresAt: 2_000)
        let s = t.encode(with: ring)
        let back = try SignedToken.verify(s, purpose: .admission, eventID: "e-1", now: 1_999, keyring: ring)
        #expect(back == t)
    }

    @Test func everyFlippedBitIsRefused() throws {
        let s = SignedToken(purpose: .ticket, eventID: "ev", sequence: 7).encode(with: ring)
        var bytes = try #require(Base64URL.decode(s))
        for i in bytes.indices {
            for bit in 0..<8 {
                bytes[i] ^= 1 << bit
                let forged = Base64URL.encode(bytes)
                #expect(throws: TokenError.self) {
                    try SignedToken.verify(forged, purpose: .ticket, eventID: "ev", now: 0, keyring: ring)
                }
                bytes[i] ^= 1 << bit
            }
        }
        #expect(try SignedToken.verify(Base64URL.encode(bytes), purpose: .ticket, eventID: "ev", now: 0, keyring: ring).sequence == 7)
    }

    @Test func otherEventOtherKindExpiredAndForeignKeyAreRefused() {
        let s = SignedToken(purpose: .admission, eventID: "a", sequence: 1, expiresAt: 100).encode(with: ring)
        func code(_ body: () throws(TokenError) -> SignedToken) -> TokenError.Code? {
            do { _ = try body(); return nil } catch { return error.code }
        }
        #expect(code { () throws(TokenError) in try SignedToken.verify(s, purpose: .admission, eventID: "b", now: 0, keyring: ring) } == .wrongScope)
        #expect(code { () throws(TokenError) in try SignedToken.verify(s, purpose: .ticket, eventID: "a", now: 0, keyring: ring) } == .wrongScope)
        #expect(code { () throws(TokenError) in try SignedToken.verify(s, purpose: .admission, eventID: "a", now: 100, keyring: ring) } == .expired)
        #expect(code { () throws(TokenError) in try SignedToken.verify(s, purpose: .admission, eventID: "a", now: 0, keyring: .random()) } == .badSignature)
        #expect(code { () throws(TokenError) in try SignedToken.verify("", purpose: .admission, eventID: "a", now: 0, keyring: ring) } == .malformed)
        #expect(code { () throws(TokenError) in try SignedToken.verify("!!!", purpose: .admission, eventID: "a", now: 0, keyring: ring) } == .malformed)
    }

    @Test func rotationKeepsOldTokensValid() throws {
        let newer = try SigningKeyring(secrets: [Crypto.randomBytes(32)] + ring.keys.map(\.secret))
        let old = SignedToken(purpose: .ticket, eventID: "ev", sequence: 9).encode(with: ring)
        #expect(try SignedToken.verify(old, purpose: .ticket, eventID: "ev", now: 0, keyring: newer).sequence == 9)
        let fresh = SignedToken(purpose: .ticket, eventID: "ev", sequence: 10).encode(with: newer)
        #expect(throws: TokenError.self) { try SignedToken.verify(fresh, purpose: .ticket, eventID: "ev", now: 0, keyring: ring) }
    }
}
