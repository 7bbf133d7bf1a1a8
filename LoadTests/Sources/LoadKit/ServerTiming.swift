/// Reads a `Server-Timing` header (`lock;dur=0.52, batch;desc="12"`): metric name → `dur`
/// in milliseconds, and name → `desc`.
///
/// Read byte by byte (the reserve client reads one per answer; the `split`/`trimming` version
/// was a seventh of that client's CPU).
public struct ServerTiming: Sendable, Equatable {
    public var durations: [String: Double] = [:]
    public var descriptions: [String: String] = [:]

    public init(_ header: String) {
        let bytes = Array(header.utf8)
        var metricStart = 0
        while metricStart <= bytes.count {
            let metricEnd = bytes[metricStart...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
            read(metric: bytes[metricStart..<metricEnd])
            metricStart = metricEnd + 1
        }
    }

    private mutating func read(metric: ArraySlice<UInt8>) {
        var parts = metric.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).makeIterator()
        guard let nameBytes = parts.next().map(Self.trimmed), !nameBytes.isEmpty else { return }
        var name: String?
        while let parameter = parts.next().map(Self.trimmed) {
            guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = parameter[..<equals]
            let value = parameter[(equals + 1)...]
            if Self.equalsIgnoringCase(key, "dur") {
                guard let duration = Double(String(decoding: value, as: UTF8.self)) else { continue }
                name = name ?? String(decoding: nameBytes, as: UTF8.self)
                durations[name!] = duration
            } else if Self.equalsIgnoringCase(key, "desc") {
                var text = value
                while text.first == UInt8(ascii: "\"") { text = text.dropFirst() }
                while text.last == UInt8(ascii: "\"") { text = text.dropLast() }
                name = name ?? String(decoding: nameBytes, as: UTF8.self)
                descriptions[name!] = String(decoding: text, as: UTF8.self)
            }
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }

    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        return zip(bytes, UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)).allSatisfy { ($0 | 0x20) == $1 }
    }
}
