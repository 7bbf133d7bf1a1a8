extension Duration {
    /// Whole milliseconds (truncated): the unit of PostgreSQL's timeouts and of configuration.
    public var wholeMilliseconds: Int64 {
        let c = components
        return c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds with their fraction (millisecond precision), e.g. for `make_interval(secs => …)`.
    public var fractionalSeconds: Double { Double(wholeMilliseconds) / 1_000 }
}
