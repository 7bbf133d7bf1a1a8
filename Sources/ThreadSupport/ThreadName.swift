#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread, so that `top -H` and `/proc/<pid>/task/*/comm` tell a connection's
/// thread from the rest. Foundation's `Thread.name` did not reach the kernel here (the threads
/// showed the name of whichever pool thread created them). Written to `/proc/thread-self/comm`
/// (Glibc's `pthread_setname_np` is not visible to Swift); Linux keeps 15 bytes of a name.
public enum ThreadName {
    public static func set(_ name: String) {
        #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #endif
    }

    /// The name the calling thread has now (empty where it cannot be read).
    public static func current() -> String {
        #if os(Linux)
        let fd = open("/proc/thread-self/comm", O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return "" }
        return String(decoding: buffer[0..<count].filter { $0 != 0x0A }, as: UTF8.self)
        #else
        return ""
        #endif
    }
}
