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

    /// A `size_t` statistic of jemalloc (fresh: a new snapshot is taken first).
    private static func statistic(_ name: String) -> Int? {
        refreshStatistics()
        var value = 0
        var size = MemoryLayout<Int>.size
        guard mallctl(name, &value, &size, nil, 0) == 0 else { return nil }
        return value
    }

    /// Bytes that jemalloc counts as allocated by the application.
    static var allocatedBytes: Int? { statistic("stats.allocated") }

    /// Bytes in physically resident pages that jemalloc maps.
    static var residentBytes: Int? { statistic("stats.resident") }

    /// True when the process-wide `malloc` (the first definition in global symbol lookup order,
    /// the one every library of this process calls) is libjemalloc's.
    static var jemallocProvidesMalloc: Bool {
        guard let global = dlopen(nil, RTLD_NOW), let resolved = dlsym(global, "malloc"),
              let library = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD),
              let jemallocs = dlsym(library, "malloc") else { return false }
        return resolved == jemallocs
    }

    /// True when `malloc` (as Swift, Foundation and NIO call it) is served by jemalloc: the
    /// process-wide `malloc` symbol comes from libjemalloc, and a block allocated through it shows
    /// up in jemalloc's own `stats.allocated`. (The call goes through the resolved symbol, so the
    /// optimizer cannot elide the allocation as it may a plain malloc/free pair.)
    static var isJemallocActive: Bool {
        guard jemallocProvidesMalloc else { return false }
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "malloc"),
              let before = allocatedBytes else { return false }
        typealias MallocFunction = @convention(c) (Int) -> UnsafeMutableRawPointer?
        let systemMalloc = unsafeBitCast(symbol, to: MallocFunction.self)
        let blockSize = 8 << 20
        guard let block = systemMalloc(blockSize) else { return false }
        let after = allocatedBytes ?? before
        free(block)
        // Other threads allocate and free meanwhile, so the counter moves by about, not exactly,
        // the block; a malloc that is not jemalloc's would move it by next to nothing.
        return after - before >= blockSize / 2
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
