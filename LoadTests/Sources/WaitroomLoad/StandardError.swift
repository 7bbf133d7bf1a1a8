import Glibc

/// Unbuffered writes to stderr (diagnostics only; a few lines per process).
enum StandardError {
    /// Writes `text` to fd 2.
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
