@_spi(Reflection) import Swift
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Direct writes to the socket of a taken-over connection (see ``HTTPStreamHandler``).
///
/// An SSE fan-out writes one small frame to each of tens of thousands of sockets per tick. The
/// kernel's part of that is fixed (one `send` per frame); through NIO, each frame also walks the
/// channel's pipeline, write queue, promise and writability bookkeeping, touching half a dozen
/// per-connection objects that are cold by the time the walk reaches them (measured: about as
/// much CPU as the `send` itself). A stream with nothing queued in NIO can write its frame with
/// one `send(MSG_DONTWAIT)` instead; what the socket does not take goes to NIO as before, and
/// the stream writes through NIO until NIO has written it (ordering).
///
/// NIO has no public accessor for a channel's descriptor. The runtime's field metadata tells,
/// once per channel class, where the channel keeps its `socket` and where that keeps its
/// `descriptor` (both checked for the expected kind of value); each connection then reads the
/// two fields, with no allocation (a `Mirror` per connection boxed every stored property of the
/// channel). The descriptor is used only when
/// the socket it names has the channel's own local and remote addresses; otherwise the stream
/// simply writes through NIO.
///
/// Bytes written this way bypass every handler, so it is for plain-TCP connections only: the
/// edge terminates no TLS (TLS ends at the proxy in front, deploy/haproxy). An edge that adds a
/// byte-transforming handler (TLS, compression) must keep it out of taken-over connections or
/// run with `WAITROOM_SSE_DIRECT_WRITES=0`.
enum HTTPDirectSocket {
    /// The descriptor of `channel`'s socket, if it can be found and checked; call on the loop.
    static func descriptor(of channel: any Channel) -> Int32? {
        guard let layout = Self.layout(of: type(of: channel)) else { return nil }
        let object = Unmanaged.passUnretained(channel as AnyObject).toOpaque()
        guard let socket = object.load(fromByteOffset: layout.socket, as: UnsafeRawPointer?.self) else { return nil }
        let descriptor = socket.load(fromByteOffset: layout.descriptor, as: Int32.self)
        guard descriptor >= 0,
              let local = channel.localAddress, let remote = channel.remoteAddress,
              Self.address(of: descriptor, peer: false) == Self.key(local),
              Self.address(of: descriptor, peer: true) == Self.key(remote)
        else { return nil }
        return descriptor
    }

    /// Where a channel class keeps its socket, and where the socket keeps its descriptor.
    private struct Layout: Sendable {
        var socket: Int
        var descriptor: Int
    }

    private static let layouts = Mutex<[ObjectIdentifier: Layout?]>([:])

    private static func layout(of channelType: any Channel.Type) -> Layout? {
        let key = ObjectIdentifier(channelType)
        if let known = Self.layouts.withLock({ $0[key] }) { return known }
        var found: Layout?
        if let (socketOffset, socketType) = Self.field("socket", of: channelType), socketType is AnyClass,
           let (descriptorOffset, descriptorType) = Self.field("descriptor", of: socketType), descriptorType == Int32.self {
            found = Layout(socket: socketOffset, descriptor: descriptorOffset)
        }
        Self.layouts.withLock { $0[key] = .some(found) }
        return found
    }

    /// The offset and type of a stored property of a class (its superclasses' included).
    static func field(_ name: String, of type: any Any.Type) -> (Int, any Any.Type)? {
        guard type is AnyClass else { return nil }
        var result: (Int, any Any.Type)?
        // `.classType` (1 << 0); the static itself is a mutable global to the compiler.
        _forEachField(of: type, options: _EachFieldOptions(rawValue: 1 << 0)) { fieldName, offset, fieldType, _ in
            if String(cString: fieldName) == name {
                result = (offset, fieldType)
                return false
            }
            return true
        }
        return result
    }

    /// Sends `bytes` without blocking: the count sent (possibly short), 0 when the socket's
    /// buffer is full, or -1 when the connection failed (NIO will see it close).
    static func send(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        while true {
            #if canImport(Glibc)
            let sent = Glibc.send(descriptor, base, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            #else
            let sent = Darwin.send(descriptor, base, bytes.count, MSG_DONTWAIT)
            #endif
            if sent >= 0 { return sent }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK, ENOBUFS: return 0
            default: return -1
            }
        }
    }

    /// "address port" of a NIO socket address (IPv4 and IPv6 only).
    private static func key(_ address: SocketAddress) -> String? {
        guard let ip = address.ipAddress, let port = address.port else { return nil }
        return "\(ip) \(port)"
    }

    /// "address port" of the socket's local (or peer) address, in the form of ``key(_:)``.
    private static func address(of descriptor: Int32, peer: Bool) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                peer ? getpeername(descriptor, raw, &length) : getsockname(descriptor, raw, &length)
            }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            }
            return SocketAddress(address, host: "").ipAddress.map { "\($0) \(Int(UInt16(bigEndian: address.sin_port)))" }
        case AF_INET6:
            let address = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            }
            return SocketAddress(address, host: "").ipAddress.map { "\($0) \(Int(UInt16(bigEndian: address.sin6_port)))" }
        default:
            return nil
        }
    }
}
