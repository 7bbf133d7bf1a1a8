import Testing
@testable import Tokens

@Suite struct CryptoTests {
    private func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    @Test func hmacMatchesRFC4231Case2() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func sha256OfABC() {
        #expect(hex(Crypto.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func constantTimeEquals() {
        #expect(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!Crypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!Crypto.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(Crypto.constantTimeEquals([UInt8](), [UInt8]()))
    }

    @Test func randomBytesDiffer() {
        let a = Crypto.randomBytes(32), b = Crypto.randomBytes(32)
        #expect(a.count == 32 && b.count == 32 && a != b)
    }

    @Test(arguments: 0..<40) func base64URLRoundTrip(length: Int) {
        let bytes = Crypto.randomBytes(length)
        let encoded = Base64URL.encode(bytes)
        #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
        #expect(Base64URL.decode(encoded) == bytes)
    }

    @Test func base64URLKnownVectorsAndRejects() {
        #expect(Base64URL.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.decode("Zm8") == Array("fo".utf8))
        #expect(Base64URL.decode("Zm9=") == nil)     // padding is not part of the alphabet
        #expect(Base64URL.decode("Z") == nil)        // impossible length
        #expect(Base64URL.decode("Zm9") == nil)      // non-zero leftover bits: one spelling per value
    }

    @Test func keyringSignsWithNewestAndVerifiesAll() throws {
        let old = Crypto.randomBytes(32), new = Crypto.randomBytes(32)
        let before = try SigningKeyring(secrets: [old])
        let after = try SigningKeyring(secrets: [new, old])
        let message = Array("event:e1|ticket:42".utf8)
        let signedBefore = before.sign(message)
        #expect(after.verify(message, keyID: signedBefore.keyID, mac: signedBefore.mac))
        let signedAfter = after.sign(message)
        #expect(!before.verify(message, keyID: signedAfter.keyID, mac: signedAfter.mac))
        var tampered = signedAfter.mac; tampered[0] ^= 1
        #expect(!after.verify(message, keyID: signedAfter.keyID, mac: tampered))
        #expect(!after.verify(Array("event:e2|ticket:42".utf8), keyID: signedAfter.keyID, mac: signedAfter.mac))
    }

    @Test func keyringConfigurationRoundTripAndErrors() throws {
        let ring = SigningKeyring.random()
        let again = try SigningKeyring(configuration: ring.configurationString)
        #expect(again.keys.map(\.id) == ring.keys.map(\.id))
        #expect(throws: TokenError.self) { try SigningKeyring(configuration: "short") }
        #expect(throws: TokenError.self) { try SigningKeyring(configuration: "") }
        #expect(throws: TokenError.self) { try SigningKeyring(configuration: "not base64 !!") }
    }
}

@Suite struct HMACSHA256KeyTests {
    @Test func preparedKeyMatchesTheOneShotHMACAcrossManyMessages() {
        var random = SystemRandomNumberGenerator()
        for keyLength in [32, 64, 65, 131] {
            let secret = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &random) }
            let key = HMACSHA256Key(secret: secret)
            for length in [0, 1, 55, 56, 64, 100, 1000] {
                let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                #expect(key.mac(message) == Crypto.hmacSHA256(key: secret, message: message))
                #expect(key.mac(message) == Crypto.hmacSHA256(key: secret, message: message))  // reused context
            }
        }
    }

    @Test func rfc4231TestCase2() {
        let key = HMACSHA256Key(secret: Array("Jefe".utf8))
        #expect(Crypto.hex(key.mac(Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func concurrentCallersGetTheirOwnMACs() async {
        let secret = Array(repeating: UInt8(7), count: 32)
        let key = HMACSHA256Key(secret: secret)
        await withTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    (0..<500).allSatisfy { n in
                        let message = Array("m-\(i)-\(n)".utf8)
                        return key.mac(message) == Crypto.hmacSHA256(key: secret, message: message)
                    }
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
