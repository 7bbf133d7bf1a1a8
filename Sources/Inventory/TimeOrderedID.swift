import Foundation
import Tokens

/// Ids of reservations and orders: a time prefix, then 128 random bits.
///
/// The prefix is the wall clock in milliseconds (48 bits), written with the 64 path-id characters
/// in ASCII order, so ids made later sort later (bytewise, which is also the database's `C.UTF-8`
/// order). A new hold's primary-key entries then go to the right edge of the indexes on
/// `reservations.id` and `reservation_items.reservation_id` instead of a random leaf page each,
/// and the holds of the last minutes (the ones released and confirmed) sit in a few hot pages.
/// The random part keeps ids unguessable; the time they reveal is the hold's `created_at`.
enum TimeOrderedID {
    /// The path-id characters (`[A-Za-z0-9_-]`) in ASCII order.
    static let alphabet: [UInt8] = Array("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz".utf8)
    /// Characters of the time prefix: 8 × 6 bits = 48 bits of milliseconds (until the year 10889).
    static let timeCharacters = 8

    static func make(prefix: String, milliseconds: UInt64, random: [UInt8]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(prefix.utf8.count + timeCharacters + 24)
        bytes.append(contentsOf: prefix.utf8)
        for index in (0..<timeCharacters).reversed() {
            bytes.append(alphabet[Int((milliseconds >> UInt64(6 * index)) & 63)])
        }
        bytes.append(contentsOf: Base64URL.encode(random).utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A new id: now, and 16 random bytes.
    static func make(prefix: String) -> String {
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        return make(prefix: prefix, milliseconds: milliseconds, random: Crypto.randomBytes(16))
    }
}
