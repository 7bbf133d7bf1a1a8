import CHiredis
import NIOCore

/// Formats commands as RESP with hiredis' `redisFormatCommandArgv`.
enum RedisCommandEncoder {
    /// Appends one command (`args[0]` is its name) to `buffer`.
    static func encode(_ args: [RedisArgument], into buffer: inout ByteBuffer) {
        precondition(!args.isEmpty, "a Redis command needs at least its name")
        // Lay all arguments out in one contiguous block so argv can point into it.
        var total = 0
        for arg in args { total += arg.bytes.count }
        var block = [UInt8]()
        block.reserveCapacity(max(total, 1))
        var lengths = [Int]()
        lengths.reserveCapacity(args.count)
        for arg in args {
            block.append(contentsOf: arg.bytes)
            lengths.append(arg.bytes.count)
        }
        if block.isEmpty { block.append(0) }  // a valid base address even for all-empty arguments

        block.withUnsafeBufferPointer { blockPointer in
            let base = UnsafeRawPointer(blockPointer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv = [UnsafePointer<CChar>?]()
            argv.reserveCapacity(args.count)
            var offset = 0
            for length in lengths {
                argv.append(base + offset)
                offset += length
            }
            var command: UnsafeMutablePointer<CChar>?
            let written = argv.withUnsafeMutableBufferPointer { argvPointer in
                lengths.withUnsafeBufferPointer { lengthPointer in
                    redisFormatCommandArgv(&command, Int32(args.count), argvPointer.baseAddress, lengthPointer.baseAddress)
                }
            }
            guard written >= 0, let command else { fatalError("hiredis: out of memory formatting a command") }
            defer { redisFreeCommand(command) }
            buffer.writeBytes(UnsafeRawBufferPointer(start: command, count: Int(written)))
        }
    }
}
