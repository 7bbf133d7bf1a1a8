import NIOCore

/// Enforces header, body and idle timeouts; first in the pipeline, so it sees raw bytes (the
/// start of a request) and can answer `408` itself. Request boundaries come from
/// ``HTTPConnectionHandler`` as ``HTTPConnectionEvent``s. Confined to the channel's event loop.
final class ConnectionTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var machine: ConnectionTimeoutStateMachine
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var opened = false
    /// After a `408`: what still arrives is read and dropped until the connection closes.
    private var discarding = false
    private let timeoutResponse: ByteBuffer
    private let lingerTimeout: TimeAmount

    init(headerTimeout: TimeAmount, bodyTimeout: TimeAmount, bodyDeadline: TimeAmount, idleTimeout: TimeAmount,
         lingerTimeout: TimeAmount) {
        self.lingerTimeout = lingerTimeout
        self.machine = ConnectionTimeoutStateMachine(
            headerTimeout: headerTimeout,
            bodyTimeout: bodyTimeout,
            bodyDeadline: bodyDeadline,
            idleTimeout: idleTimeout
        )
        let body = JSONText.errorBody(code: HTTPError.requestTimeout.code.rawValue, message: HTTPError.requestTimeout.message)
        self.timeoutResponse = ByteBuffer(string:
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        )
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.open(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.open(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.machine.closed()
        self.cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.discarding { return }
        self.machine.bytesReceived(now: .now())
        self.arm(context: context)
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let event = event as? HTTPConnectionEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch event {
        case .requestHeadReceived: self.machine.requestHeadReceived(now: .now())
        case .requestEndReceived: self.machine.requestEndReceived()
        case .responseCompleted: self.machine.responseCompleted(now: .now())
        }
        self.arm(context: context)
        promise?.succeed(())
    }

    private func open(context: ChannelHandlerContext) {
        guard !self.opened else { return }
        self.opened = true
        self.machine.connectionOpened(now: .now())
        self.arm(context: context)
    }

    /// Ensures a timer fires no later than the machine's deadline.
    private func arm(context: ChannelHandlerContext) {
        guard let deadline = self.machine.deadline else { return }
        if let current = self.timerDeadline, current <= deadline { return }
        self.timer?.cancel()
        self.timerDeadline = deadline
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        self.timer = nil
        self.timerDeadline = nil
        switch self.machine.timerFired(now: .now()) {
        case .none:
            break
        case .rearm:
            self.arm(context: context)
        case .closeIdle:
            context.close(promise: nil)
        case .requestTimedOut:
            self.discarding = true
            let lingerTimeout = self.lingerTimeout
            context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(self.timeoutResponse))).assumeIsolated().whenComplete { _ in
                // Close our side, read and drop what a slow client still sends, then close: it
                // reads the 408 instead of a reset caused by unread input (as HTTPConnectionHandler
                // does after an error answer).
                context.close(mode: .output).assumeIsolated().whenFailure { _ in
                    context.close(promise: nil)
                }
                _ = context.eventLoop.assumeIsolated().scheduleTask(in: lingerTimeout) {
                    context.close(promise: nil)
                }
            }
        }
    }

    private func cancelTimer() {
        self.timer?.cancel()
        self.timer = nil
        self.timerDeadline = nil
    }
}
