import CJemalloc

/// Facts about the process allocator, read from jemalloc itself through `mallctl`.
///
/// `waitroomd` links jemalloc, whose unprefixed `malloc` comes before glibc's in symbol lookup;
/// `isJemallocActive` proves that at run time: it allocates a block through the system `malloc`
/// and checks that jemalloc's own `stats.allocated` counter saw it.
enum Allocator {
    static var jemallocVersion: String? {
        var pointer: UnsafePointer<CChar>? = nil
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &pointer, &size, nil, 0) == 0, let pointer else { return nil }
        return String(cString: pointer)
    }

    /// jemalloc's statistics are a snapshot taken at the last "epoch" write; take a new one.
    private static func refreshStatistics() {
        var epoch: UInt64 = 1
        var previous: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        _ = mallctl("epoch", &previous, &size, &epoch, MemoryLayout<UInt64>.size)
    }

    /// Bytes that jemalloc counts as allocated by the application (refreshed on each call).
    static var allocatedBytes: Int? {
        refreshStatistics()
        var allocated = 0
        var size = MemoryLayout<Int>.size
        guard mallctl("stats.allocated", &allocated, &size, nil, 0) == 0 else { return nil }
        return allocated
    }

    /// Bytes in physically resident pages that jemalloc maps.
    static var residentBytes: Int? {
        refreshStatistics()
        var resident = 0
        var size = MemoryLayout<Int>.size
        guard mallctl("stats.resident", &resident, &size, nil, 0) == 0 else { return nil }
        return resident
    }

    /// True when `malloc` (as Swift and Foundation call it) is served by jemalloc.
    static var isJemallocActive: Bool {
        guard let before = allocatedBytes else { return false }
        let blockSize = 8 << 20
        guard let block = malloc(blockSize) else { return false }
        memset(block, 1, blockSize)
        let after = allocatedBytes ?? before
        free(block)
        return after - before >= blockSize
    }

    /// A one-line description for `--version` and the start-up log.
    static var summary: String {
        guard let version = jemallocVersion else { return "allocator: system malloc (jemalloc not linked)" }
        return "allocator: jemalloc \(version)" + (isJemallocActive ? "" : " (linked, but NOT serving malloc)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
