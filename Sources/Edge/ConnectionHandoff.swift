import CFDPass
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import ThreadSupport
#if canImport(Glibc)
import Glibc
#endif

/// Thrown by an asynchronous route handler, when its ``RequestContext/canHandOff`` is true, to
/// have its connection served from this request on by the worker process `target` of this
/// machine (see ``ConnectionHandoff``). When the connection cannot be handed over, the same
/// handler runs again at once with `canHandOff` false, so it must decide nothing before throwing.
public struct HTTPConnectionHandOff: Error, Sendable {
    public let target: Int

    public init(target: Int) {
        self.target = target
    }
}

/// Hands keep-alive connections between the worker processes of one machine.
///
/// The workers share the listening port (`SO_REUSEPORT`), so the kernel picks the process that
/// serves a connection before its first request is read. Some work is best done by one process:
/// the reservations of a ticket class are combined by the worker that owns the class
/// (`CombinerPeers`), and a worker that does not own it forwards each operation to the one that
/// does, paying a message each way, the parsing at both ends and the wake-ups of two processes
/// for every request. A route may instead hand the whole connection over: the socket goes to the
/// owner over a Unix socket (`SCM_RIGHTS`), together with the request being served (encoded again)
/// and whatever the client already pipelined behind it; the owner serves the request as if it had
/// arrived there, and every later request of the connection too. Once per connection: a
/// connection a worker received is never handed on again.
///
/// Each worker listens on `<directory>/handoff-<index>.sock` (`SOCK_SEQPACKET`: one message per
/// connection, at most ``maxMessageBytes``) and receives on a thread of its own, which passes each
/// socket to `adopt` (the edge registers it on an event loop). A send never waits: when the
/// receiver is gone, restarting or behind, nothing was handed over and the caller serves the
/// request itself. Once the kernel took the message, the socket is the receiver's: the sender
/// closes its own descriptor, which neither resets nor shuts the connection (the receiver holds
/// the other reference). A receiver that dies before it read the message closes the connection
/// without an answer, as a crash of the process serving it would; clients retry with their
/// idempotency keys.
///
/// Plain TCP only: the edge terminates no TLS (see ``HTTPDirectSocket``).
public final class ConnectionHandoff: Sendable {
    public typealias Adopt = @Sendable (_ descriptor: Int32, _ bytes: [UInt8]) -> Void

    /// The largest message (request head, body and pipelined bytes); a larger one is not handed over.
    public static let maxMessageBytes = 128 * 1024

    public let index: Int
    private let directory: String
    private let logger: Logger
    /// Connected sockets to the other workers' listeners, opened on first use and again after
    /// one broke (the worker restarted).
    private let senders = Mutex<[Int: Int32]>([:])
    /// The receiving thread and its wake pipe, while it runs.
    private let receiving = Mutex<(thread: pthread_t, wake: WakePipe)?>(nil)

    public init(directory: String, index: Int, logger: Logger) {
        self.directory = directory
        self.index = index
        self.logger = logger
    }

    public static func socketPath(directory: String, index: Int) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + "handoff-\(index).sock"
    }

    // MARK: Receiving

    struct SystemError: Error, CustomStringConvertible {
        let call: String
        let code: Int32
        var description: String { "\(call): \(String(cString: strerror(code)))" }
    }

    /// Binds this worker's socket and starts the thread that receives connections, each passed
    /// to `adopt` (on that thread) with the bytes that came with it.
    public func listen(adopt: @escaping Adopt) throws {
        let path = Self.socketPath(directory: directory, index: index)
        let listener = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SystemError(call: "socket", code: errno) }
        unlink(path)
        do {
            let address = try SocketAddress(unixDomainSocketPath: path)
            guard address.withSockAddr({ bind(listener, $0, socklen_t($1)) }) == 0 else { throw SystemError(call: "bind \(path)", code: errno) }
            guard Glibc.listen(listener, 64) == 0 else { throw SystemError(call: "listen", code: errno) }
        } catch {
            Glibc.close(listener)
            throw error
        }
        let wake = WakePipe()
        let receiver = Receiver(listener: listener, wake: wake.readEnd, path: path, adopt: adopt, logger: logger)
        let box = Unmanaged.passRetained(receiver).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            ThreadName.set("edge-handoff")
            let receiver = Unmanaged<Receiver>.fromOpaque(argument!).takeRetainedValue()
            receiver.run()
            return nil
        }, box)
        guard created == 0 else {
            Unmanaged<Receiver>.fromOpaque(box).release()
            Glibc.close(listener)
            wake.close()
            throw SystemError(call: "pthread_create", code: created)
        }
        receiving.withLock { $0 = (thread, wake) }
    }

    /// The receiving thread's loop: accepts the other workers' connections and reads their
    /// messages until woken through the pipe.
    private final class Receiver: @unchecked Sendable {
        let listener: Int32
        let wake: Int32
        let path: String
        let adopt: Adopt
        let logger: Logger

        init(listener: Int32, wake: Int32, path: String, adopt: @escaping Adopt, logger: Logger) {
            self.listener = listener
            self.wake = wake
            self.path = path
            self.adopt = adopt
            self.logger = logger
        }

        func run() {
            var peers: [Int32] = []
            var buffer = [UInt8](repeating: 0, count: ConnectionHandoff.maxMessageBytes)
            defer {
                for peer in peers { Glibc.close(peer) }
                Glibc.close(listener)
                unlink(path)
            }
            while true {
                var polled = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                              pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                polled += peers.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&polled, nfds_t(polled.count), -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    logger.error("connection hand-off: poll failed; no more connections are received",
                                 metadata: ["error": "\(String(cString: strerror(errno)))"])
                    return
                }
                if polled[0].revents != 0 { return }
                if polled[1].revents & Int16(POLLIN) != 0 {
                    let peer = wr_fd_accept(listener)
                    if peer >= 0 { peers.append(peer) }
                }
                var broken: Set<Int32> = []
                for entry in polled.dropFirst(2) where entry.revents != 0 {
                    var descriptor: Int32 = -1
                    let received = buffer.withUnsafeMutableBytes { wr_fd_receive(entry.fd, $0.baseAddress, $0.count, &descriptor) }
                    if received > 0, descriptor >= 0 {
                        adopt(descriptor, Array(buffer[0..<received]))
                    } else if received > 0 || (received < 0 && errno == EMSGSIZE) {
                        logger.warning("connection hand-off: a message without a socket or too long; dropped")
                    } else if received == 0 || (errno != EAGAIN && errno != EINTR) {
                        broken.insert(entry.fd)
                    }
                }
                for peer in broken { Glibc.close(peer) }
                peers.removeAll { broken.contains($0) }
            }
        }
    }

    // MARK: Sending

    /// Hands `descriptor`, with `bytes` (what the receiver reads first), to worker `target`.
    /// `true` when the kernel took them: the connection is the target's from now on and the
    /// caller closes its descriptor; `false` when nothing was handed over.
    func send(descriptor: Int32, bytes: [UInt8], to target: Int) -> Bool {
        guard target != index, target >= 0, !bytes.isEmpty, bytes.count <= Self.maxMessageBytes else { return false }
        return senders.withLock { senders in
            // Twice at most: a cached socket may be broken because the target restarted.
            for _ in 0..<2 {
                let sock: Int32
                if let cached = senders[target] {
                    sock = cached
                } else {
                    guard let opened = connect(to: target) else { return false }
                    senders[target] = opened
                    sock = opened
                }
                let sent = bytes.withUnsafeBytes { wr_fd_send(sock, descriptor, $0.baseAddress, $0.count) }
                if sent == bytes.count { return true }
                let error = errno
                // The target is behind (its queue is full): not handed over; the socket is fine.
                if sent >= 0 || error == EAGAIN || error == ENOBUFS { return false }
                Glibc.close(sock)
                senders[target] = nil
            }
            return false
        }
    }

    private func connect(to target: Int) -> Int32? {
        let sock = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard sock >= 0 else { return nil }
        guard let address = try? SocketAddress(unixDomainSocketPath: Self.socketPath(directory: directory, index: target)),
              address.withSockAddr({ Glibc.connect(sock, $0, socklen_t($1)) }) == 0 else {
            Glibc.close(sock)
            return nil
        }
        return sock
    }

    /// Stops receiving (the socket file is removed) and closes the sending sockets.
    public func close() {
        if let (thread, wake) = receiving.withLock({ state -> (pthread_t, WakePipe)? in
            defer { state = nil }
            return state
        }) {
            wake.wake()
            pthread_join(thread, nil)
            wake.close()
        }
        senders.withLock { senders in
            for sock in senders.values { Glibc.close(sock) }
            senders = [:]
        }
    }

    // MARK: The request, again

    /// `request` as HTTP/1.1 bytes for the receiver to parse again: its head with the body's
    /// length as it was received (de-chunked), without `Expect` (already answered here), and
    /// with `x-request-id: requestID` when the client sent none (the receiver then logs and
    /// answers under the id this worker gave the request).
    static func encode(_ request: HTTPRequest, requestID: String? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + request.body.readableBytes)
        bytes += request.method.rawValue.utf8
        bytes.append(0x20)
        bytes += request.uri.utf8
        bytes += " HTTP/1.1\r\n".utf8
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "transfer-encoding" || lower == "expect" { continue }
            bytes += name.utf8
            bytes += ": ".utf8
            bytes += value.utf8
            bytes += "\r\n".utf8
        }
        if let requestID, !request.headers.contains(name: "x-request-id") {
            bytes += "x-request-id: \(requestID)\r\n".utf8
        }
        bytes += "content-length: \(request.body.readableBytes)\r\n\r\n".utf8
        bytes += request.body.readableBytesView
        return bytes
    }
}
