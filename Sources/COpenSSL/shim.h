// OpenSSL libcrypto (Debian's libssl-dev): HMAC, digests, random bytes, constant-time compare.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>
