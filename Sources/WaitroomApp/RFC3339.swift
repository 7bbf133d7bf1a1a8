import Foundation

/// RFC 3339 UTC times (`2026-11-27T01:02:03Z`, optionally with milliseconds) without a
/// `DateFormatter`: these are written on hot paths (every admission, every JSON log line), where
/// making a formatter per call costs more than the rest of the work.
public enum RFC3339 {
    /// The time `milliseconds` after the epoch; with `fraction`, milliseconds are included.
    public static func string(milliseconds: Int64, fraction: Bool = false) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var out = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        if fraction { out += "." + pad(Int32(milliseconds % 1000), 3) }
        return out + "Z"
    }

    public static func string(_ date: Date, fraction: Bool = false) -> String {
        string(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)), fraction: fraction)
    }
}
