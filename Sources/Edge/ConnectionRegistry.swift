import NIOCore
import Synchronization

/// The open connections of one server, for graceful shutdown: tell each to quiesce once, wait for
/// all to close, force-close stragglers. State guarded by a `Mutex`.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        var quiesced: Bool
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var draining = false
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Whether graceful shutdown has started.
    var isDraining: Bool { self.state.withLock { $0.draining } }

    /// Number of open connections.
    var count: Int { self.state.withLock { $0.entries.count } }

    /// Adds a connection; when draining already, it is quiesced at once.
    func register(_ channel: any Channel) {
        let quiesceNow = self.state.withLock { state -> Bool in
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, quiesced: state.draining)
            return state.draining
        }
        if quiesceNow { ConnectionRegistry.quiesce(channel) }
    }

    /// Removes a closed connection.
    func unregister(_ channel: any Channel) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.entries[ObjectIdentifier(channel)] = nil
            guard state.entries.isEmpty else { return [] }
            defer { state.emptyWaiters = [] }
            return state.emptyWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Starts draining: every connection not yet told is asked to quiesce (idle ones close at once,
    /// busy ones after their current response, with `Connection: close`).
    func beginDrain() {
        let channels = self.state.withLock { state -> [any Channel] in
            state.draining = true
            var channels: [any Channel] = []
            for (key, entry) in state.entries where !entry.quiesced {
                state.entries[key]?.quiesced = true
                channels.append(entry.channel)
            }
            return channels
        }
        for channel in channels { ConnectionRegistry.quiesce(channel) }
    }

    /// Closes every connection now.
    func closeAll() {
        let channels = self.state.withLock { $0.entries.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Returns once no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = self.state.withLock { state -> Bool in
                if state.entries.isEmpty { return true }
                state.emptyWaiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private static func quiesce(_ channel: any Channel) {
        channel.eventLoop.execute {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            channel.pipeline.fireUserInboundEventTriggered(EdgeDrainEvent())
        }
    }
}
