import Foundation
import LoadKit
import NIOCore
import NIOHTTP1

/// One checkout client on one keep-alive connection: reserve, then release what it got, again and
/// again until the deadline. A connection that breaks (server killed, restarting) is opened again
/// after 200 ms, so crash tests can run through restarts.
final class ReserveConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    struct Plan: Sendable {
        var host: String
        var reservePath: String
        var body: String
        var release: Bool
        var deadline: NIODeadline
    }

    private enum Step { case reserve, release(String) }

    private let plan: Plan
    private let token: String
    private let stats: ReserveStats
    private let acked: FileHandle?
    private var step: Step = .reserve
    private var inFlight: (step: Step, sentAt: NIODeadline)?
    private var status: UInt = 0
    private var timing: String?
    private var body: [UInt8] = []
    private var sequence = 0
    private let index: Int

    init(plan: Plan, token: String, index: Int, stats: ReserveStats, acked: FileHandle?) {
        self.plan = plan
        self.token = token
        self.index = index
        self.stats = stats
        self.acked = acked
    }

    /// Connects and keeps a client running until the deadline; `finished` runs once, on the loop.
    static func start(connector: Connector, plan: Plan, token: String, index: Int, stats: ReserveStats,
                      acked: FileHandle?, finished: @escaping () -> Void) {
        let loop = connector.loop
        let finishedBox = NIOLoopBound(finished, eventLoop: loop)
        let statsBox = NIOLoopBound(stats, eventLoop: loop)
        func attempt() {
            guard NIODeadline.now() < plan.deadline else {
                finishedBox.value()
                return
            }
            connector.connect(sourceIndex: index) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Our own requests: no need to validate the headers we write on every request.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(
                        ReserveConnection(plan: plan, token: token, index: index, stats: statsBox.value, acked: acked))
                }
            }.flatMap { $0.closeFuture }.whenComplete { result in
                if case .failure(let error) = result { statsBox.value.error("connect: \(error)") }
                guard NIODeadline.now() < plan.deadline else {
                    finishedBox.value()
                    return
                }
                loop.scheduleTask(in: .milliseconds(200)) { attempt() }
            }
        }
        attempt()
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        send(context: context)
    }

    private func send(context: ChannelHandlerContext) {
        guard NIODeadline.now() < plan.deadline else {
            context.close(promise: nil)
            return
        }
        var head: HTTPRequestHead
        var payload: ByteBuffer?
        switch step {
        case .reserve:
            head = HTTPRequestHead(version: .http1_1, method: .POST, uri: plan.reservePath)
            sequence += 1
            head.headers.add(name: "Idempotency-Key", value: "load-\(index)-\(sequence)-\(UInt32.random(in: 0...UInt32.max))")
            head.headers.add(name: "Content-Type", value: "application/json")
            payload = ByteBuffer(string: plan.body)
        case .release(let id):
            head = HTTPRequestHead(version: .http1_1, method: .DELETE, uri: "/v1/reservations/\(id)")
        }
        head.headers.add(name: "Host", value: plan.host)
        head.headers.add(name: "Authorization", value: "Bearer \(token)")
        head.headers.add(name: "Content-Length", value: String(payload?.readableBytes ?? 0))
        inFlight = (step, .now())
        body.removeAll(keepingCapacity: true)
        timing = nil
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let payload { context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            timing = head.headers.first(name: "Server-Timing")
        case .body(let buffer):
            if body.count < 8_192 { body.append(contentsOf: buffer.readableBytesView) }
        case .end:
            guard let (sent, sentAt) = inFlight else { return }
            inFlight = nil
            let micros = UInt64(max(1, (NIODeadline.now() - sentAt).nanoseconds / 1_000))
            stats.statuses[String(status), default: 0] += 1
            if let timing {
                let t = ServerTiming(timing)
                if let lock = t.durations["lock"] { stats.lockWait.record(UInt64(max(1, lock * 1000))) }
                if let size = t.descriptions["batch"].flatMap(Int.init) {
                    stats.batches += 1
                    stats.batchOperations += size
                }
            }
            switch sent {
            case .reserve:
                if status == 201, let id = JSONScan.string("reservationId", in: body) {
                    stats.reserved += 1
                    stats.reserveLatency.record(micros)
                    if let acked { acked.write(Data((id + "\n").utf8)) }
                    step = plan.release ? .release(id) : .reserve
                } else if status == 409 {
                    stats.refused += 1
                    stats.reserveLatency.record(micros)
                } else {
                    stats.error("reserve: \(status) \(String(decoding: body.prefix(200), as: UTF8.self))")
                }
            case .release:
                if status == 204 {
                    stats.released += 1
                    stats.releaseLatency.record(micros)
                } else {
                    stats.error("release: \(status) \(String(decoding: body.prefix(200), as: UTF8.self))")
                }
                step = .reserve
            }
            send(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if inFlight != nil {
            inFlight = nil
            stats.error("connection closed mid-request")
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        stats.error("\(error)")
        context.close(promise: nil)
    }
}
