/// One Server-Sent Event: its name (`event:`) and JSON text (`data:`). The hub adds the `id:`.
public struct SSEEvent: Sendable, Hashable {
    /// The event name, e.g. `position`, `admitted`, `paused`, `resumed`, `sold_out`.
    public var name: String
    /// The data, usually one line of JSON.
    public var data: String
    /// What decides whether a latest value changed, when the data holds more than the change that
    /// matters (e.g. the position, while the ETA beside it moves on its own): a value with the same
    /// name and change key as the last one sent is not sent again. `nil`: the whole data decides.
    public var changeKey: Int?

    /// An event.
    public init(name: String, data: String, changeKey: Int? = nil) {
        self.name = name
        self.data = data
        self.changeKey = changeKey
    }
}
