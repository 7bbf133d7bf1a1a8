import NIOCore

/// What to do with one command's reply from a Redis Cluster node: deliver it, or follow a
/// `MOVED`/`ASK` redirect, or retry after `TRYAGAIN`/`CLUSTERDOWN`, within limits.
///
/// Pure: the router feeds it replies and executes the returned actions.
struct RedisClusterRequestStateMachine: Sendable {
    /// The next step for the command.
    enum Action: Sendable, Hashable {
        /// The caller gets this reply (a value, or an error reply such as the last redirect once
        /// the limits are reached).
        case deliver(RedisValue)
        /// Record `slot` → `node` in the slot map, ask for a refresh of the whole map in the
        /// background, and send the command to `node`.
        case moved(slot: Int, to: RedisEndpoint)
        /// Send `ASKING` and then the command to `node`; the slot map stays as it is.
        case ask(RedisEndpoint)
        /// Wait `delay`, then route the command by the slot map again.
        case retry(after: TimeAmount)
    }

    /// Redirects (`MOVED` + `ASK`) followed before the reply is delivered as it is.
    let maxRedirects: Int
    /// `TRYAGAIN`/`CLUSTERDOWN` retries before the reply is delivered as it is.
    let maxRetries: Int
    private let backoff: RedisBackoff
    private(set) var redirects = 0
    private(set) var retries = 0

    init(maxRedirects: Int, maxRetries: Int, retryBackoff: RedisBackoff) {
        self.maxRedirects = maxRedirects
        self.maxRetries = maxRetries
        self.backoff = retryBackoff
    }

    /// `reply` came from `node`; `random` (0...1) is the jitter of a retry delay.
    mutating func replyReceived(_ reply: RedisValue, from node: RedisEndpoint, random: Double = .random(in: 0...1)) -> Action {
        guard case .error(let message) = reply,
              let redirect = RedisClusterRedirect(errorMessage: message, replyingNode: node) else {
            return .deliver(reply)
        }
        switch redirect {
        case .moved(let slot, let target):
            guard redirects < maxRedirects else { return .deliver(reply) }
            redirects += 1
            return .moved(slot: slot, to: target)
        case .ask(_, let target):
            guard redirects < maxRedirects else { return .deliver(reply) }
            redirects += 1
            return .ask(target)
        case .tryAgain, .clusterDown:
            guard retries < maxRetries else { return .deliver(reply) }
            retries += 1
            return .retry(after: backoff.delay(attempt: retries - 1, random: random))
        }
    }

    /// The slot map has no node for the command's slot (a map not loaded, or a slot no master
    /// serves): retry after a refresh, or deliver a `CLUSTERDOWN` error once retries run out.
    mutating func slotUnserved(_ slot: Int, random: Double = .random(in: 0...1)) -> Action {
        guard retries < maxRetries else {
            return .deliver(.error("CLUSTERDOWN Hash slot \(slot) is not served by any known node"))
        }
        retries += 1
        return .retry(after: backoff.delay(attempt: retries - 1, random: random))
    }
}
