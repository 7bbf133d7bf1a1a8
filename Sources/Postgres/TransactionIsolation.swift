/// Transaction isolation level for `withTransaction` and `transactionPipeline`.
public enum TransactionIsolation: Sendable {
    /// `READ COMMITTED` (the server default).
    case readCommitted
    /// `REPEATABLE READ`.
    case repeatableRead
    /// `SERIALIZABLE`: be ready to retry on `isSerializationFailure`.
    case serializable

    var beginStatement: String {
        switch self {
        case .readCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}
