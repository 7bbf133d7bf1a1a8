#if canImport(Glibc)
import Glibc
#endif

/// A self-pipe: lets other threads wake a thread that waits in `poll` on its read end.
public struct WakePipe: Sendable {
    public let readEnd: Int32
    public let writeEnd: Int32

    public init() {
        var fds: [Int32] = [0, 0]
        let ok = pipe(&fds)
        precondition(ok == 0, "pipe() failed: errno \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    public func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Empties the pipe after `poll` reported it readable.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }

    public func close() {
        _ = Glibc.close(readEnd)
        _ = Glibc.close(writeEnd)
    }
}
