import Redis

extension QueueStore {
    /// Ends an admission that has done its purchase: its active slot is freed at once (instead
    /// of when the session would expire). Idempotent.
    public func finishAdmission(event: String, order: Int64) async throws {
        _ = try await client.send("ZREM", RedisArgument(QueueKeys(event: event).active), RedisArgument(Int(order)))
    }
}
