/// The server's signing secrets, newest first: tokens are signed with the newest key and
/// verified against every key, so a key can be rotated without logging anyone out.
///
/// Configured by `WAITROOM_SIGNING_KEY` as a comma-separated list of base64url secrets (at least
/// 32 bytes each), newest first.
public struct SigningKeyring: Sendable {
    public struct Key: Sendable {
        /// A short public id of the key (first 4 bytes of its SHA-256), carried in tokens.
        public let id: [UInt8]
        let secret: [UInt8]
        /// The secret as a prepared HMAC key (no per-call key setup).
        let hmac: HMACSHA256Key
    }

    public let keys: [Key]

    public init(secrets: [[UInt8]]) throws(TokenError) {
        guard !secrets.isEmpty else { throw TokenError(.invalidKey, "no signing key") }
        for s in secrets where s.count < 32 {
            throw TokenError(.invalidKey, "a signing key must have at least 32 bytes, got \(s.count)")
        }
        keys = secrets.map { Key(id: Array(Crypto.sha256($0).prefix(4)), secret: $0, hmac: HMACSHA256Key(secret: $0)) }
    }

    /// Parses the `WAITROOM_SIGNING_KEY` form: base64url secrets separated by commas, newest first.
    public init(configuration: String) throws(TokenError) {
        var secrets: [[UInt8]] = []
        for part in configuration.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " \t\n")
            guard let bytes = Base64URL.decode(trimmed) else {
                throw TokenError(.invalidKey, "a signing key is not base64url")
            }
            secrets.append(bytes)
        }
        try self.init(secrets: secrets)
    }

    /// A fresh random keyring of one 32-byte key.
    public static func random() -> SigningKeyring {
        // 32 random bytes always satisfy the length rule.
        try! SigningKeyring(secrets: [Crypto.randomBytes(32)])
    }

    /// The configuration string of this keyring, for handing it to worker processes.
    /// A secret for another purpose derived from the newest key (HMAC-SHA256 of `purpose`), so
    /// every process with the same keys derives the same one without more configuration.
    public func derivedSecret(purpose: String) -> [UInt8] {
        Crypto.hmacSHA256(key: keys[0].secret, message: Array(purpose.utf8))
    }

    public var configurationString: String {
        keys.map { Base64URL.encode($0.secret) }.joined(separator: ",")
    }

    /// Signs `message` with the newest key: returns the key id and the MAC.
    public func sign(_ message: some Collection<UInt8>) -> (keyID: [UInt8], mac: [UInt8]) {
        let key = keys[0]
        return (key.id, key.hmac.mac(message))
    }

    /// True when `mac` is the MAC of `message` under the key named `keyID`, compared in constant time.
    public func verify(_ message: some Collection<UInt8>, keyID: some Collection<UInt8>, mac: some Collection<UInt8>) -> Bool {
        let keyID = Array(keyID)
        guard let key = keys.first(where: { $0.id == keyID }) else { return false }
        return Crypto.constantTimeEquals(key.hmac.mac(message), mac)
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        let s = Substring(self)
        let start = s.firstIndex { !set.contains($0) } ?? s.endIndex
        let end = s.lastIndex { !set.contains($0) }.map { s.index(after: $0) } ?? start
        return start < end ? s[start..<end] : ""
    }
}
