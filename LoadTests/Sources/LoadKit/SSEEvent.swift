/// One dispatched Server-Sent Events frame, reduced to what a load client needs.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field; `"message"` when the frame had none (as a browser's EventSource does).
    public var type: String
    /// The last `id:` field seen in the stream up to and including this frame (sticky, as in the spec).
    public var id: String?
    /// The `data:` lines joined with `\n`, as raw UTF-8 bytes (not decoded: most frames are only counted).
    public var data: [UInt8]

    /// Creates an event.
    public init(type: String, id: String?, data: [UInt8]) {
        self.type = type
        self.id = id
        self.data = data
    }

    /// The data as a string (for tests and diagnostics).
    public var dataString: String { String(decoding: data, as: UTF8.self) }
}
