import NIOCore

/// One open event stream, as its loop's ``SSELoopRegistry`` keeps it.
// @unchecked Sendable: the `let`s are set before the stream is handed to the connection; every
// `var` is only touched on the connection's event loop (from `start`, the hub's per-loop tasks,
// writability and drain hooks, and the close future), where the registry lives too.
final class SSEStream: @unchecked Sendable {
    let eventID: String
    let key: Int
    /// The update to send first, if the route already knew it; dropped once sent.
    var initial: SSEStreamUpdate?

    /// Set in `start`, on the loop.
    var writer: HTTPBodyStreamWriter?
    /// Registry id, unique per loop.
    var id: UInt64 = 0
    /// The `id:` of the next event.
    var nextEventID: UInt64
    /// When the last ``SSEStreamUpdate/latest(_:)`` value was sent.
    var lastSentAt: NIODeadline = .distantPast
    /// Added to the interval before the next latest value: a stream sent in a burst (a walk that
    /// found far more streams due than one tick's share) waits a fraction of an interval longer
    /// once, so the streams of one burst fall due spread over the next interval instead of all
    /// together again (``SSELoopRegistry``). Zero again after the next value.
    var phaseDelay: TimeAmount = .zero
    /// When anything (event or comment) was last written.
    var lastWriteAt: NIODeadline = .distantPast
    /// Hash of the last latest-value sent, to send only changes.
    var lastHash: Int?
    /// The channel's writability as its hook last reported it: the walks read this flag instead
    /// of the channel's atomic (one object less to touch per stream and tick).
    var writable = true
    /// A newer value could not be sent because the channel was not writable.
    var pending = false
    /// The slot of its event's deferred ``SSEDueSlots`` it waits in to be sent, if any.
    var deferredSlot: UInt64?
    /// The slot of its event's waiting ``SSEDueSlots`` (between two values: looked at again
    /// when a tick could send it), if any.
    var waitingSlot: UInt64?
    /// In its event's list of streams that a tick sends at once (due, or nearly).
    var ready = false
    /// The next stream of the same event and key on this loop (a place open in several tabs).
    var nextWithKey: SSEStream?
    /// Ended (finished or closed): no more writes.
    var ended = false
    /// Its final event is written and it ends when the walk's slice does: a second visit in the
    /// same walk (it was ready and its key was admitted too) must not write the final again.
    var finalWritten = false
    /// The socket for direct writes (``HTTPDirectSocket``), -1 when the stream writes through
    /// NIO; reset the moment the channel closes.
    var descriptor: Int32 = -1
    /// Direct writes are framed as HTTP/1.1 chunks.
    var chunked = true
    /// Writes handed to NIO (the first frame, the rest of a short direct write) that NIO has not
    /// written yet: while any is queued, direct writes would overtake it, so the stream counts as
    /// not writable (a newer value waits as `pending`, latest only).
    var queuedWrites = 0
    /// A frame of it waits in its loop's ``SSESendBatch``: the batch goes first before anything
    /// else is written to it.
    var inSendBatch = false

    /// A frame can go out now.
    var canWrite: Bool { self.writable && self.queuedWrites == 0 }

    init(eventID: String, key: Int, lastEventID: UInt64?, initial: SSEStreamUpdate?) {
        self.eventID = eventID
        self.key = key
        self.initial = initial
        self.nextEventID = (lastEventID ?? 0) &+ 1
    }

    /// When the next latest value may go out at `interval`.
    func dueAt(_ interval: TimeAmount) -> NIODeadline { self.lastSentAt + interval + self.phaseDelay }

    /// A fraction of `interval` fixed by the stream's id (uniform over streams, no state).
    func spread(of interval: TimeAmount) -> TimeAmount {
        let mixed = (self.id &+ 1) &* 0x9E37_79B9_7F4A_7C15
        return .nanoseconds(Int64(Double(mixed >> 11) / Double(1 << 53) * Double(interval.nanoseconds)))
    }

    /// The hash that decides whether a latest value changed.
    static func hash(_ event: SSEEvent) -> Int {
        var hasher = Hasher()
        hasher.combine(event.name)
        if let changeKey = event.changeKey {
            hasher.combine(changeKey)
        } else {
            hasher.combine(event.data)
        }
        return hasher.finalize()
    }
}
