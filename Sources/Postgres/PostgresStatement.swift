/// One statement with its parameters, for `pipeline` and `transactionPipeline`.
public struct PostgresStatement: Sendable {
    /// SQL with `$1`, `$2`, ... placeholders. Exactly one statement.
    public var sql: String
    /// Parameters, sent out-of-band.
    public var params: [PostgresValue]

    /// Creates a statement.
    public init(_ sql: String, _ params: [PostgresValue] = []) {
        self.sql = sql
        self.params = params
    }
}
