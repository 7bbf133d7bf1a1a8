import COpenSSL
import Synchronization

/// An HMAC-SHA256 key prepared once. OpenSSL 3's one-shot `HMAC()` looks the algorithm up,
/// allocates contexts and hashes the padded key on every call; this keeps one context keyed at
/// creation and re-initialises it per message (OpenSSL keeps the keyed state), under a lock.
final class HMACSHA256Key: @unchecked Sendable {  // `context` is only touched under `lock`
    private let lock = Mutex<Void>(())
    private let context: OpaquePointer

    init(secret: [UInt8]) {
        let algorithm = EVP_MAC_fetch(nil, "HMAC", nil)
        precondition(algorithm != nil, "HMAC not available in libcrypto")
        let context = EVP_MAC_CTX_new(algorithm)
        EVP_MAC_free(algorithm)  // the context holds its own reference
        precondition(context != nil, "EVP_MAC_CTX_new failed")
        let ok = "digest".withCString { name in
            "SHA256".withCString { digest in
                var params = [
                    OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: digest), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return secret.withUnsafeBufferPointer { key in
                    EVP_MAC_init(context, key.baseAddress, key.count, &params)
                }
            }
        }
        precondition(ok == 1, "HMAC-SHA256 key setup failed in libcrypto")
        self.context = context!
    }

    deinit {
        EVP_MAC_CTX_free(context)
    }

    /// The 32-byte MAC of `message`.
    func mac(_ message: some Collection<UInt8>) -> [UInt8] {
        let message = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var outLength = 0
        let ok = lock.withLock { _ -> Bool in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    EVP_MAC_init(context, nil, 0, nil) == 1
                        && EVP_MAC_update(context, m.baseAddress, m.count) == 1
                        && EVP_MAC_final(context, o.baseAddress, &outLength, 32) == 1
                }
            }
        }
        precondition(ok && outLength == 32, "HMAC-SHA256 failed in libcrypto")
        return out
    }
}
