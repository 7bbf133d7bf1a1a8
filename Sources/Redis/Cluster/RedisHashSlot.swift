/// Redis Cluster's key-to-slot mapping: CRC16 (XMODEM) of the key, or of its hash tag, modulo
/// 16384.
///
/// The hash tag is the part between the first `{` and the first `}` after it, when that part is
/// not empty: `wr:{e1}:q` and `wr:{e1}:seq` share a slot; `a{}b` and `a}{b` hash whole.
public enum RedisHashSlot {
    /// Slots in a Redis Cluster.
    public static let count = 16384

    /// The slot of `key`.
    public static func slot(of key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { bytes in
            Int(crc16(bytes[hashedRange(of: bytes)]) & UInt16(count - 1))
        }
    }

    /// The slot of the UTF-8 bytes of `key`.
    public static func slot(of key: String) -> Int {
        slot(of: Array(key.utf8))
    }

    /// The range of `key` that is hashed: the hash tag, or the whole key.
    static func hashedRange<C: Collection<UInt8>>(of key: C) -> Range<C.Index> where C.Index == Int {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
              close > open + 1 else { return key.startIndex..<key.endIndex }
        return (open + 1)..<close
    }

    /// CRC16 with polynomial 0x1021, initial value 0, no reflection (XMODEM), as Redis uses.
    static func crc16<C: Collection<UInt8>>(_ bytes: C) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
