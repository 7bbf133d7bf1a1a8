/// Minimal, allocation-light lookups of one top-level field in a JSON object's bytes.
///
/// Not a JSON parser: it finds the first `"name"` key followed by a colon and reads the value
/// after it. Good enough for the flat objects of the Waitroom stream and join responses, and far
/// cheaper than decoding on a hot path that sees 100k frames a second.
public enum JSONScan {
    /// The unsigned integer value of field `name` (e.g. `"ts": 1712345678901234`), if present.
    public static func unsignedInteger<Bytes: Collection>(_ name: String, in bytes: Bytes) -> UInt64?
    where Bytes.Element == UInt8 {
        guard var index = valueStart(of: name, in: bytes) else { return nil }
        var result: UInt64 = 0
        var digits = 0
        while index != bytes.endIndex, let digit = asciiDigit(bytes[index]) {
            let (times, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            result = sum
            digits += 1
            index = bytes.index(after: index)
        }
        return digits > 0 ? result : nil
    }

    /// The string value of field `name` (no escape sequences are decoded; tickets have none).
    public static func string<Bytes: Collection>(_ name: String, in bytes: Bytes) -> String?
    where Bytes.Element == UInt8 {
        guard var index = valueStart(of: name, in: bytes), index != bytes.endIndex,
              bytes[index] == UInt8(ascii: "\"") else { return nil }
        index = bytes.index(after: index)
        let start = index
        while index != bytes.endIndex, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { return nil }
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// How many times each string value of field `name` occurs anywhere in `bytes` (e.g. the
    /// `ticketClassId` of every ticket in an order's `tickets` array).
    public static func stringCounts(_ name: String, in bytes: [UInt8]) -> [String: UInt64] {
        var counts: [String: UInt64] = [:]
        var rest = bytes[...]
        while let start = valueStart(of: name, in: rest) {
            if let value = string(name, in: rest) { counts[value, default: 0] += 1 }
            rest = rest[start...]
        }
        return counts
    }

    private static func asciiDigit(_ byte: UInt8) -> UInt8? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : nil
    }

    /// The index just past `"name"`, whitespace, `:` and whitespace.
    private static func valueStart<Bytes: Collection>(of name: String, in bytes: Bytes) -> Bytes.Index?
    where Bytes.Element == UInt8 {
        let key = Array("\"\(name)\"".utf8)
        var start = bytes.startIndex
        while start != bytes.endIndex {
            guard let quote = bytes[start...].firstIndex(of: key[0]) else { return nil }
            var cursor = quote
            var matched = 0
            while matched < key.count, cursor != bytes.endIndex, bytes[cursor] == key[matched] {
                matched += 1
                cursor = bytes.index(after: cursor)
            }
            if matched == key.count {
                cursor = skipSpaces(bytes, from: cursor)
                if cursor != bytes.endIndex, bytes[cursor] == UInt8(ascii: ":") {
                    return skipSpaces(bytes, from: bytes.index(after: cursor))
                }
            }
            start = bytes.index(after: quote)
        }
        return nil
    }

    private static func skipSpaces<Bytes: Collection>(_ bytes: Bytes, from index: Bytes.Index) -> Bytes.Index
    where Bytes.Element == UInt8 {
        var index = index
        while index != bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
            index = bytes.index(after: index)
        }
        return index
    }
}
