/// The contract's rule for ids in paths: `[A-Za-z0-9_-]{1,64}`.
public enum PathID {
    /// The longest id accepted.
    public static let maxLength = 64

    /// Whether `value` is a valid id (checked on UTF-8 bytes, no regex).
    public static func isValid<S: StringProtocol>(_ value: S) -> Bool {
        var count = 0
        for byte in value.utf8 {
            count += 1
            guard count <= maxLength else { return false }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return count > 0
    }
}
