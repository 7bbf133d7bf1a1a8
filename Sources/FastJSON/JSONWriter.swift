/// Hand-written JSON output for the hot paths (no encoder round trip).
public enum JSONWriter {
    /// Appends `value` as a quoted JSON string (the escapes `JSONEncoder` uses, `/` left as is).
    public static func appendString(_ value: String, to out: inout String) {
        // Most strings (ids, tokens, state names) need no escape: one append.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            out.append("\"")
            out.append(value)
            out.append("\"")
            return
        }
        out.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out.append("\\u")
                out.append(String(repeating: "0", count: 4 - hex.count))
                out.append(hex)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }

    /// Appends `[e1,e2,…]`, each element written by `element`. Inlinable: specialised where it
    /// is called, so a hot path pays no generic dispatch for it.
    @inlinable
    public static func appendArray<Elements: Sequence>(_ elements: Elements, to out: inout String,
                                                       _ element: (Elements.Element, inout String) -> Void) {
        out.append("[")
        var first = true
        for value in elements {
            if !first { out.append(",") }
            first = false
            element(value, &out)
        }
        out.append("]")
    }
}
