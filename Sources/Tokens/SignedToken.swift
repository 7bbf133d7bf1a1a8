/// The wire form shared by every token the server signs: base64url of
/// `version(1) | purpose(1) | keyID(4) | expiresAt(8, unix seconds, 0 = never) | sequence(8) | event id | MAC(16)`,
/// where the MAC is HMAC-SHA256 over everything before it, truncated to 128 bits.
///
/// The purpose byte separates kinds (a ticket can never pass as an admission token), the key id
/// lets keys rotate, and the event id binds the token to one event.
public struct SignedToken: Sendable, Equatable {
    public enum Purpose: UInt8, Sendable {
        case ticket = 0x54       // "T": a place in a queue
        case admission = 0x41    // "A": permission to reserve
    }

    public var purpose: Purpose
    public var eventID: String
    public var sequence: UInt64
    /// Unix seconds after which the token is refused; 0 means it does not expire by itself.
    public var expiresAt: UInt64

    static let version: UInt8 = 1
    static let macLength = 16
    static let headerLength = 1 + 1 + 4 + 8 + 8

    public init(purpose: Purpose, eventID: String, sequence: UInt64, expiresAt: UInt64 = 0) {
        self.purpose = purpose
        self.eventID = eventID
        self.sequence = sequence
        self.expiresAt = expiresAt
    }

    /// The token's string form, signed with the keyring's newest key.
    public func encode(with keyring: SigningKeyring) -> String {
        var body: [UInt8] = [Self.version, purpose.rawValue]
        body.reserveCapacity(Self.headerLength + eventID.utf8.count + Self.macLength)
        body += keyring.keys[0].id
        appendBigEndian(expiresAt, to: &body)
        appendBigEndian(sequence, to: &body)
        body += Array(eventID.utf8)
        let mac = keyring.sign(body).mac.prefix(Self.macLength)
        return Base64URL.encode(body + mac)
    }

    /// Decodes and verifies `string`: well-formed, signed by a key of the ring, of `purpose`,
    /// for `eventID`, and not expired at `now` (unix seconds). Every refusal is a `TokenError`.
    public static func verify(_ string: some StringProtocol, purpose: Purpose, eventID: String,
                              now: UInt64, keyring: SigningKeyring) throws(TokenError) -> SignedToken {
        try verify(string, purpose: purpose, anyEventOr: eventID, now: now, keyring: keyring)
    }

    /// Like `verify(_:purpose:eventID:now:keyring:)` for a route that names no event (e.g. a
    /// reservation): the token's own event is returned, and the caller must check that what it
    /// reaches belongs to that event.
    public static func verify(_ string: some StringProtocol, purpose: Purpose,
                              now: UInt64, keyring: SigningKeyring) throws(TokenError) -> SignedToken {
        try verify(string, purpose: purpose, anyEventOr: nil, now: now, keyring: keyring)
    }

    private static func verify(_ string: some StringProtocol, purpose: Purpose, anyEventOr eventID: String?,
                               now: UInt64, keyring: SigningKeyring) throws(TokenError) -> SignedToken {
        guard string.utf8.count <= 512, let bytes = Base64URL.decode(string),
              bytes.count > headerLength + macLength else {
            throw TokenError(.malformed, "not a token")
        }
        let body = bytes[..<(bytes.count - macLength)]
        let mac = bytes[(bytes.count - macLength)...]
        guard body[0] == version else { throw TokenError(.malformed, "unknown token version") }
        let keyID = body[2..<6]
        guard let key = keyring.keys.first(where: { $0.id.elementsEqual(keyID) }) else {
            throw TokenError(.badSignature, "unknown signing key")
        }
        let expected = key.hmac.mac(body).prefix(macLength)
        guard Crypto.constantTimeEquals(expected, mac) else {
            throw TokenError(.badSignature, "signature does not match")
        }
        // Only a genuine token gets this far: the rest is trusted data, checked for scope.
        guard body[1] == purpose.rawValue else { throw TokenError(.wrongScope, "token of another kind") }
        let expiresAt = readBigEndian(body, at: 6)
        let sequence = readBigEndian(body, at: 14)
        let event = String(decoding: body[headerLength...], as: UTF8.self)
        if let eventID, event != eventID { throw TokenError(.wrongScope, "token of another event") }
        guard expiresAt == 0 || now < expiresAt else { throw TokenError(.expired, "token expired") }
        return SignedToken(purpose: purpose, eventID: event, sequence: sequence, expiresAt: expiresAt)
    }
}

private func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
}

private func readBigEndian(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    let start = bytes.startIndex + offset
    for i in start..<(start + 8) { value = value << 8 | UInt64(bytes[i]) }
    return value
}
