import NIOCore
import NIOHTTP1

/// How a request's body is framed, from its head.
enum HTTPBodyFraming: Equatable, Sendable {
    /// No body (no `Content-Length`, no `Transfer-Encoding`, or `Content-Length: 0`).
    case none
    /// `Content-Length` bytes.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// The outcome of reading a request head from the start of the bytes received.
enum HTTPHeadParse {
    /// Not all of the head is here yet (and what is here is within the limit).
    case incomplete
    /// A head, the body's framing, and how many bytes it took (the blank line included).
    case complete(HTTPRequestHead, HTTPBodyFraming, consumed: Int)
    /// The bytes are not an acceptable HTTP/1 request head.
    case failed(HTTPParserError)
}

/// The outcome of reading a chunk-size line.
enum HTTPChunkLineParse: Equatable {
    case incomplete
    case size(Int, consumed: Int)
    case failed
}

/// A strict HTTP/1.0 and 1.1 request-head parser (RFC 9112) for ``HTTP1ServerCodec``, pure so it
/// can be tested byte by byte. What it refuses is what lets requests be smuggled or misread:
/// both `Content-Length` and `Transfer-Encoding`, differing lengths, a transfer coding other than
/// `chunked` alone, `chunked` on HTTP/1.0, whitespace before a header's colon, folded header
/// lines, control characters, a bare CR or a bare LF (every line ends in CRLF). Empty lines before
/// the request line are skipped (RFC 9112 §2.2).
enum HTTPRequestParser {
    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let colon = UInt8(ascii: ":")

    /// Reads the head at the start of `bytes`; `limit` bounds the whole head (leading empty
    /// lines, request line, fields and the blank line), beyond which it is `.headerOverflow`.
    static func parseHead(_ bytes: UnsafeRawBufferPointer, limit: Int) -> HTTPHeadParse {
        let count = bytes.count
        var index = 0
        // Empty lines before the request line.
        while index < count, bytes[index] == cr || bytes[index] == lf {
            guard bytes[index] == cr else { return .failed(.lfExpected) }
            guard index + 1 < count else { return index + 1 > limit ? .failed(.headerOverflow) : .incomplete }
            guard bytes[index + 1] == lf else { return .failed(.lfExpected) }
            index += 2
            if index > limit { return .failed(.headerOverflow) }
        }

        // The request line.
        guard let found = Self.line(bytes, from: index) else {
            return count > limit ? .failed(.headerOverflow) : .incomplete
        }
        guard let (lineEnd, next) = found else { return .failed(.lfExpected) }
        if next > limit { return .failed(.headerOverflow) }
        guard let requestLine = Self.requestLine(bytes, from: index, to: lineEnd) else { return .failed(.invalidURL) }
        let (method, uri, version) = requestLine
        guard let version else { return .failed(.invalidVersion) }
        guard let method else { return .failed(.invalidMethod) }
        index = next

        // The fields, up to the blank line.
        var fields: [(String, String)] = []
        fields.reserveCapacity(8)
        var contentLength: Int?
        var transferEncodings: [Substring] = []
        while true {
            guard let found = Self.line(bytes, from: index) else {
                return count > limit ? .failed(.headerOverflow) : .incomplete
            }
            guard let (lineEnd, next) = found else { return .failed(.lfExpected) }
            if next > limit { return .failed(.headerOverflow) }
            if lineEnd == index {
                index = next
                break
            }
            // obs-fold (a line that continues the previous field) is refused (RFC 9112 §5.2).
            if bytes[index] == space || bytes[index] == tab { return .failed(.invalidHeaderToken) }
            var colon = index
            while colon < lineEnd, bytes[colon] != Self.colon {
                guard HTTPHeaderCheck.isTokenCharacter(bytes[colon]) else { return .failed(.invalidHeaderToken) }
                colon += 1
            }
            guard colon < lineEnd, colon > index else { return .failed(.invalidHeaderToken) }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd, bytes[valueStart] == space || bytes[valueStart] == tab { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == tab { valueEnd -= 1 }
            for position in valueStart..<valueEnd where !HTTPHeaderCheck.isFieldValueCharacter(bytes[position]) {
                return .failed(.invalidHeaderToken)
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<colon]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            if Self.equalsIgnoringCase(bytes, index, colon, "content-length") {
                guard let length = Self.decimal(bytes, valueStart, valueEnd), contentLength == nil || contentLength == length else {
                    return .failed(.invalidContentLength)
                }
                contentLength = length
            } else if Self.equalsIgnoringCase(bytes, index, colon, "transfer-encoding") {
                transferEncodings.append(contentsOf: value.split(separator: ",", omittingEmptySubsequences: false))
            }
            fields.append((name, value))
            index = next
        }

        let framing: HTTPBodyFraming
        if !transferEncodings.isEmpty {
            // Only `chunked`, once: this server decodes no other coding, and a request with both
            // framings is how smuggling starts (RFC 9112 §6.1).
            guard contentLength == nil, version.minor == 1, transferEncodings.count == 1,
                  transferEncodings[0].trimmingOWS().lowercased() == "chunked" else {
                return .failed(.invalidContentLength)
            }
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        let head = HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
        return .complete(head, framing, consumed: index)
    }

    /// Reads a chunk-size line (`1a;name=value CRLF`) at the start of `bytes`; extensions are
    /// skipped. At most `limit` bytes for the line.
    static func parseChunkLine(_ bytes: UnsafeRawBufferPointer, limit: Int) -> HTTPChunkLineParse {
        guard let found = Self.line(bytes, from: 0) else {
            return bytes.count > limit ? .failed : .incomplete
        }
        guard let (lineEnd, next) = found, next <= limit else { return .failed }
        var size = 0
        var index = 0
        while index < lineEnd, let digit = Self.hexDigit(bytes[index]) {
            guard size <= (Int.max >> 4) else { return .failed }
            size = size << 4 | digit
            index += 1
        }
        guard index > 0 else { return .failed }
        while index < lineEnd, bytes[index] == space || bytes[index] == tab { index += 1 }
        guard index == lineEnd || bytes[index] == UInt8(ascii: ";") else { return .failed }
        for position in index..<lineEnd where !HTTPHeaderCheck.isFieldValueCharacter(bytes[position]) { return .failed }
        return .size(size, consumed: next)
    }

    /// The end of the line starting at `start` (before its CR LF) and where the next line starts;
    /// nil when the line is not complete, `.some(nil)` when it ends in a bare LF. A CR not followed
    /// by LF ends nothing (and is refused as a control character).
    static func line(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, next: Int)?? {
        guard start < bytes.count,
              let found = UnsafeRawBufferPointer(rebasing: bytes[start...]).firstIndex(of: Self.lf) else { return nil }
        let lf = start + found
        guard lf > start, bytes[lf - 1] == cr else { return .some(nil) }
        return (lf - 1, lf + 1)
    }

    /// method SP request-target SP HTTP-version; nil when the shape is wrong, a nil member when
    /// that member is not acceptable.
    private static func requestLine(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int)
        -> (HTTPMethod?, String, HTTPVersion?)? {
        var index = start
        while index < end, bytes[index] != space {
            guard HTTPHeaderCheck.isTokenCharacter(bytes[index]) else { return nil }
            index += 1
        }
        guard index > start, index < end else { return nil }
        let methodEnd = index
        index += 1
        let targetStart = index
        while index < end, bytes[index] != space {
            // Visible ASCII only: no control characters, no raw non-ASCII.
            guard bytes[index] > 0x20 && bytes[index] < 0x7F else { return nil }
            index += 1
        }
        guard index > targetStart, index < end else { return nil }
        let targetEnd = index
        index += 1
        var version: HTTPVersion?
        if end - index == 8,
           bytes[index] == UInt8(ascii: "H"), bytes[index + 1] == UInt8(ascii: "T"), bytes[index + 2] == UInt8(ascii: "T"),
           bytes[index + 3] == UInt8(ascii: "P"), bytes[index + 4] == UInt8(ascii: "/"), bytes[index + 5] == UInt8(ascii: "1"),
           bytes[index + 6] == UInt8(ascii: "."), bytes[index + 7] == UInt8(ascii: "0") || bytes[index + 7] == UInt8(ascii: "1") {
            version = bytes[index + 7] == UInt8(ascii: "1") ? .http1_1 : .http1_0
        }
        let method = Self.method(UnsafeRawBufferPointer(rebasing: bytes[start..<methodEnd]))
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<targetEnd]), as: UTF8.self)
        return (method, target, version)
    }

    private static func method(_ name: UnsafeRawBufferPointer) -> HTTPMethod? {
        switch name.count {
        case 3:
            if Self.equals(name, "GET") { return .GET }
            if Self.equals(name, "PUT") { return .PUT }
        case 4:
            if Self.equals(name, "POST") { return .POST }
            if Self.equals(name, "HEAD") { return .HEAD }
        case 5:
            if Self.equals(name, "PATCH") { return .PATCH }
        case 6:
            if Self.equals(name, "DELETE") { return .DELETE }
        case 7:
            if Self.equals(name, "OPTIONS") { return .OPTIONS }
        default:
            break
        }
        guard name.count <= 32 else { return nil }
        return HTTPMethod(rawValue: String(decoding: name, as: UTF8.self))
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        return bytes.elementsEqual(expected)
    }

    /// `bytes[start..<end]` equals `lowercase` (which is lower-case ASCII), ignoring case.
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ lowercase: StaticString) -> Bool {
        guard end - start == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for offset in 0..<(end - start) where bytes[start + offset] | 0x20 != expected[offset] {
            return false
        }
        return true
    }

    /// 1*DIGIT, at most 18 digits (no overflow); nil otherwise.
    private static func decimal(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        guard end > start, end - start <= 18 else { return nil }
        var value = 0
        for index in start..<end {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingOWS() -> Substring {
        var start = self.startIndex
        var end = self.endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = self.index(after: start) }
        while end > start, self[self.index(before: end)] == " " || self[self.index(before: end)] == "\t" { end = self.index(before: end) }
        return self[start..<end]
    }
}
