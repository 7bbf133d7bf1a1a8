import COpenSSL

/// The few cryptographic primitives the server needs, over OpenSSL's libcrypto.
public enum Crypto {
    /// HMAC-SHA256 of `message` under `key` (32 bytes).
    public static func hmacSHA256(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        let key = Array(key)
        let message = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count,
                         o.baseAddress, &outLength)
                }
            }
        }
        precondition(ok != nil && outLength == 32, "HMAC-SHA256 failed in libcrypto")
        return out
    }

    /// SHA-256 digest of `message`.
    public static func sha256(_ message: some Collection<UInt8>) -> [UInt8] {
        let message = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        let ok = message.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(m.baseAddress, m.count, o.baseAddress, &outLength, EVP_sha256(), nil)
            }
        }
        precondition(ok == 1 && outLength == 32, "SHA-256 failed in libcrypto")
        return out
    }

    /// SHA-1 digest of `message` (20 bytes). Not for security: the queue lottery uses it because
    /// Redis scripts can compute it too (`redis.sha1hex`), so the order is checkable from outside.
    public static func sha1(_ message: some Collection<UInt8>) -> [UInt8] {
        let message = Array(message)
        var out = [UInt8](repeating: 0, count: 20)
        var outLength: UInt32 = 0
        let ok = message.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(m.baseAddress, m.count, o.baseAddress, &outLength, EVP_sha1(), nil)
            }
        }
        precondition(ok == 1 && outLength == 20, "SHA-1 failed in libcrypto")
        return out
    }

    /// Lowercase hex of `bytes`.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `count` bytes from OpenSSL's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }

    /// Compares two byte strings in time that depends only on their lengths, never on where
    /// they differ (so that secrets such as the admin token cannot be guessed byte by byte).
    public static func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let a = Array(a)
        let b = Array(b)
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}
