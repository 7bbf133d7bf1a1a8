/// Integers as ASCII decimal digits, written straight into bytes (no `String` made): SSE `id:`
/// lines and the position JSON, both written for every frame.
public enum DecimalDigits {
    /// Writes `value` (with a `-` when negative) into `out` from index `start`, which must leave
    /// room for 20 bytes; returns the index after the last digit.
    @inlinable
    public static func write(_ value: Int64, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        guard value < 0 else { return Self.write(value.magnitude, into: out, at: start) }
        out[start] = UInt8(ascii: "-")
        return Self.write(value.magnitude, into: out, at: start + 1)
    }

    /// Writes `value` into `out` from index `start` (room for 20 bytes); returns the index after it.
    @inlinable
    public static func write(_ value: UInt64, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        // Count the digits, then write them from the last (dividing by a constant 10).
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var magnitude = value
        var index = start + digits
        repeat {
            index -= 1
            out[index] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        return start + digits
    }
}
