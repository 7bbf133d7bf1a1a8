import NIOCore
import NIOHTTP1

/// Server-Sent Events framing (WHATWG HTML, "Server-sent events"): pure functions that append
/// frames to a buffer, so a stream can batch several frames into one write.
public enum SSEEncoder {
    /// The response headers of an event stream: `Content-Type: text/event-stream`,
    /// `Cache-Control: no-store` and `X-Accel-Buffering: no` (proxies must not buffer it).
    public static var headers: HTTPHeaders {
        [
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        ]
    }

    /// Appends `retry: <ms>` and the blank line that ends the frame.
    public static func writeRetry(milliseconds: Int, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("retry: ")
        buffer.writeString(String(max(0, milliseconds)))
        buffer.writeStaticString("\n\n")
    }

    /// Appends one event: `id:` (if any), `event:` (if any), one `data:` line per line of `data`,
    /// then a blank line. Line breaks in `name` are dropped: they would end the field early.
    public static func writeEvent(id: UInt64?, name: String?, data: String, into buffer: inout ByteBuffer) {
        if let id {
            buffer.writeStaticString("id: ")
            Self.writeDecimal(id, into: &buffer)
            buffer.writeStaticString("\n")
        }
        if let name, !name.isEmpty {
            buffer.writeStaticString("event: ")
            if Self.hasLineBreak(name) {
                buffer.writeString(String(name.filter { !$0.isNewline }))
            } else {
                buffer.writeString(name)
            }
            buffer.writeStaticString("\n")
        }
        Self.writeLines(prefix: "data: ", data, into: &buffer)
        buffer.writeStaticString("\n")
    }

    /// Appends a comment frame (`: <text>` per line, then a blank line); browsers ignore it, proxies
    /// and the connection see traffic.
    public static func writeComment(_ text: String, into buffer: inout ByteBuffer) {
        Self.writeLines(prefix: ": ", text, into: &buffer)
        buffer.writeStaticString("\n")
    }

    /// Writes `value` in decimal without making a String.
    static func writeDecimal(_ value: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { raw in
            DecimalDigits.write(value, into: raw.bindMemory(to: UInt8.self), at: 0)
        }
    }

    /// The numeric `Last-Event-ID` a reconnecting browser sends, if any and well-formed.
    public static func lastEventID(from headers: HTTPHeaders) -> UInt64? {
        guard let text = headers.first(name: "last-event-id") else { return nil }
        let trimmed = text.trimmingASCIISpaces()
        guard !trimmed.isEmpty, trimmed.count <= 20, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(trimmed)
    }

    /// True when `text` holds a CR or LF, the only line ends of the SSE format. A byte scan: the
    /// common case (JSON on one line) must not pay for grapheme breaking on every frame.
    static func hasLineBreak(_ text: String) -> Bool {
        // Native strings are contiguous UTF-8: a loop over the bytes (the generic `contains` over
        // the UTF-8 view was 2 % of a worker's CPU sending position frames).
        if let found = text.utf8.withContiguousStorageIfAvailable({ bytes in
            for byte in bytes where byte == 0x0A || byte == 0x0D { return true }
            return false
        }) {
            return found
        }
        return text.utf8.contains { $0 == 0x0A || $0 == 0x0D }
    }

    private static func writeLines(prefix: StaticString, _ text: String, into buffer: inout ByteBuffer) {
        guard Self.hasLineBreak(text) else {
            buffer.writeStaticString(prefix)
            buffer.writeString(text)
            buffer.writeStaticString("\n")
            return
        }
        // "\r\n" is one Character in Swift, so splitting on newlines handles CR, LF and CRLF alike.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            buffer.writeStaticString(prefix)
            buffer.writeSubstring(line)
            buffer.writeStaticString("\n")
        }
    }
}

extension String {
    fileprivate func trimmingASCIISpaces() -> Substring {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return slice
    }
}
