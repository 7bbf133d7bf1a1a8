/// One Server-Sent Event: its name (`event:`) and JSON text (`data:`). The hub adds the `id:`.
public struct SSEEvent: Sendable, Hashable {
    /// The event name, e.g. `position`, `admitted`, `paused`, `resumed`, `sold_out`.
    public var name: String
    /// The data, usually one line of JSON.
    public var data: String

    /// An event.
    public init(name: String, data: String) {
        self.name = name
        self.data = data
    }
}
