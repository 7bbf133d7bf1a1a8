/// An incremental parser of a `text/event-stream` body.
///
/// Feed it the body bytes as they arrive, in chunks of any size: a line or a frame may be split
/// anywhere, even between the `\r` and `\n` of a CRLF. It follows the parts of the WHATWG
/// event-stream rules that a load client needs: `event`, `data`, `id`, comments (counted),
/// and dispatch on a blank line. `retry` is recorded; other fields are ignored.
public struct SSEFrameParser: Sendable {
    /// Comment lines (`: keepalive`) seen so far.
    public private(set) var comments: UInt64 = 0
    /// The last `retry:` value in milliseconds, if any.
    public private(set) var retryMilliseconds: Int?
    /// The sticky last event id.
    public private(set) var lastEventID: String?

    private var line: [UInt8] = []
    private var eventType: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCR = false

    /// Creates a parser at the start of a stream.
    public init() {}

    /// Parses `bytes`, calling `onEvent` for every frame completed by them.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes, onEvent: (SSEEvent) -> Void) where Bytes.Element == UInt8 {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                if self.lastWasCR {
                    // The LF of a CRLF: the line already ended at the CR.
                    self.lastWasCR = false
                    continue
                }
                self.endLine(onEvent: onEvent)
            case UInt8(ascii: "\r"):
                self.lastWasCR = true
                self.endLine(onEvent: onEvent)
            default:
                self.lastWasCR = false
                self.line.append(byte)
            }
        }
    }

    /// Parses `bytes` and returns the completed frames (convenience for tests).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [SSEEvent] where Bytes.Element == UInt8 {
        var events: [SSEEvent] = []
        self.feed(bytes) { events.append($0) }
        return events
    }

    private mutating func endLine(onEvent: (SSEEvent) -> Void) {
        defer { self.line.removeAll(keepingCapacity: true) }
        if self.line.isEmpty {
            self.dispatch(onEvent: onEvent)
            return
        }
        if self.line[0] == UInt8(ascii: ":") {
            self.comments &+= 1
            return
        }
        let colon = self.line.firstIndex(of: UInt8(ascii: ":"))
        let name = colon.map { self.line[..<$0] } ?? self.line[...]
        var valueStart = colon.map { $0 + 1 } ?? self.line.endIndex
        if valueStart < self.line.endIndex, self.line[valueStart] == UInt8(ascii: " ") {
            valueStart += 1
        }
        let value = self.line[valueStart...]
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if self.hasData { self.data.append(UInt8(ascii: "\n")) }
            self.data.append(contentsOf: value)
            self.hasData = true
        case "event":
            self.eventType = Array(value)
        case "id":
            if !value.contains(0) { self.lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if let ms = Int(String(decoding: value, as: UTF8.self)) { self.retryMilliseconds = ms }
        default:
            break
        }
    }

    private mutating func dispatch(onEvent: (SSEEvent) -> Void) {
        defer {
            self.eventType.removeAll(keepingCapacity: true)
            self.data.removeAll(keepingCapacity: true)
            self.hasData = false
        }
        // A frame without data is not dispatched (spec); a frame with only `retry:` or `id:` is not an event.
        guard self.hasData else { return }
        let type = self.eventType.isEmpty ? "message" : String(decoding: self.eventType, as: UTF8.self)
        onEvent(SSEEvent(type: type, id: self.lastEventID, data: self.data))
    }
}
