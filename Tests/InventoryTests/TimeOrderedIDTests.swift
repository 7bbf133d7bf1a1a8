import Foundation
import Testing
@testable import Inventory

/// The contract's path-id rule, `[A-Za-z0-9_-]{1,64}`.
private func isPathID(_ id: String) -> Bool {
    (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { byte in
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte == 0x2D
    }
}

@Suite struct TimeOrderedIDTests {
    @Test func theAlphabetIsThePathIDCharactersInASCIIOrder() {
        let alphabet = TimeOrderedID.alphabet
        #expect(alphabet.count == 64)
        #expect(zip(alphabet, alphabet.dropFirst()).allSatisfy { $0 < $1 })
        #expect(isPathID(String(decoding: alphabet, as: UTF8.self)))
    }

    @Test func idsSortByTheirMillisecondWhateverTheRandomPart() {
        let random = (0..<50).map { _ in (0..<16).map { _ in UInt8.random(in: 0...255) } }
        // Times across the bit boundaries of the 6-bit digits, and today's clock.
        let times: [UInt64] = [0, 1, 63, 64, 65, 4095, 4096, 262_143, 262_144, 1_796_000_000_000,
                               1_796_000_000_001, 1_796_000_000_064, (1 << 48) - 1]
        var previous: String?
        for time in times {
            let ids = random.map { TimeOrderedID.make(prefix: "r_", milliseconds: time, random: $0) }
            for id in ids {
                #expect(isPathID(id))
                #expect(id.utf8.count == 2 + 8 + 22)
                #expect(id.hasPrefix("r_"))
                if let previous { #expect(Array(previous.utf8).lexicographicallyPrecedes(Array(id.utf8))) }
            }
            // The largest id of this millisecond, for the next one to sort after.
            previous = ids.max { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        }
    }

    @Test func newIDsAreDistinctAndCarryTheClock() {
        let ids = (0..<1_000).map { _ in TimeOrderedID.make(prefix: "o_") }
        #expect(Set(ids).count == ids.count)
        let first = TimeOrderedID.make(prefix: "o_", milliseconds: UInt64(Date().timeIntervalSince1970 * 1000) - 60_000,
                                       random: [UInt8](repeating: 255, count: 16))
        // An id made a minute ago sorts before every id made now.
        #expect(ids.allSatisfy { Array(first.utf8).lexicographicallyPrecedes(Array($0.utf8)) })
    }
}
