/// Splits a byte stream into `\n`-terminated lines (a trailing `\r` is dropped).
///
/// The coordinator reads its children's stdout with it; the bytes arrive in pipe-sized chunks that
/// may cut a line anywhere.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []

    /// Creates an empty splitter.
    public init() {}

    /// Appends `bytes` and returns every line they complete, without the terminator.
    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) -> [String] where Bytes.Element == UInt8 {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if self.pending.last == UInt8(ascii: "\r") { self.pending.removeLast() }
                lines.append(String(decoding: self.pending, as: UTF8.self))
                self.pending.removeAll(keepingCapacity: true)
            } else {
                self.pending.append(byte)
            }
        }
        return lines
    }

    /// The bytes of an unterminated last line, if any (at end of stream).
    public var remainder: String? {
        self.pending.isEmpty ? nil : String(decoding: self.pending, as: UTF8.self)
    }
}
