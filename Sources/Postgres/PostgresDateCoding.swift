import Foundation

/// Text <-> `Date` for `timestamptz`, without DateFormatter (which is slow and locale-bound).
///
/// Sessions run with `DateStyle=ISO` and `TimeZone=UTC`, so the server prints
/// `2024-05-01 12:34:56.123456+00`; parsing also accepts a `T` separator, any numeric offset,
/// a trailing `Z`, and `infinity`/`-infinity` (mapped to `Date.distantFuture`/`distantPast`).
enum PostgresDateCoding {
    /// Formats as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, microsecond precision, UTC).
    static func format(_ date: Date) -> String {
        let totalMicros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        guard totalMicros.isFinite, abs(totalMicros) < 9.0e18 else {
            return date.timeIntervalSince1970 < 0 ? "-infinity" : "infinity"
        }
        let micros = Int64(totalMicros)
        var days = micros / 86_400_000_000
        var rem = micros % 86_400_000_000
        if rem < 0 { rem += 86_400_000_000; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        let secOfDay = rem / 1_000_000
        let frac = rem % 1_000_000
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secOfDay / 3600, 2)):\(pad(secOfDay / 60 % 60, 2)):"
            + "\(pad(secOfDay % 60, 2)).\(pad(frac, 6))Z"
    }

    /// Parses PostgreSQL's ISO output for `timestamptz` (or `timestamp`, taken as UTC).
    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + width) {
                let c = b[k]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            i += width
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        // Year: 4+ digits.
        var yearDigits = 0
        while i + yearDigits < b.count, b[i + yearDigits] >= 0x30, b[i + yearDigits] <= 0x39 { yearDigits += 1 }
        guard yearDigits >= 4, let year = number(yearDigits), expect(0x2D),
              let month = number(2), expect(0x2D), let day = number(2) else { return nil }
        guard i < b.count, b[i] == 0x20 || b[i] == 0x54 else { return nil }
        i += 1
        guard let hour = number(2), expect(0x3A), let minute = number(2), expect(0x3A),
              let second = number(2) else { return nil }
        var micros: Int64 = 0
        if expect(0x2E) {
            var scale: Int64 = 100_000
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                micros += Int64(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        var offsetSeconds: Int64 = 0
        if i < b.count {
            if b[i] == 0x5A || b[i] == 0x7A {  // Z
                i += 1
            } else if b[i] == 0x2B || b[i] == 0x2D {
                let sign: Int64 = b[i] == 0x2D ? -1 : 1
                i += 1
                guard let oh = number(2) else { return nil }
                var om: Int64 = 0, os: Int64 = 0
                if expect(0x3A) { guard let v = number(2) else { return nil }; om = v }
                if expect(0x3A) { guard let v = number(2) else { return nil }; os = v }
                offsetSeconds = sign * (oh * 3600 + om * 60 + os)
            }
        }
        var bc = false
        if i < b.count {
            // " BC" suffix for years before 1 AD.
            guard text.hasSuffix(" BC") else { return nil }
            bc = true
        }
        let astronomicalYear = bc ? 1 - year : year
        let days = Self.days(fromCivil: astronomicalYear, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    /// Howard Hinnant's days_from_civil.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Howard Hinnant's civil_from_days.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
