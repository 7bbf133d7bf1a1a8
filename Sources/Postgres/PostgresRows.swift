/// The complete result of one statement: columns, rows, and the affected-row count.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// The result's columns.
    public let columns: [PostgresColumn]
    /// Number of rows affected (`PQcmdTuples`: INSERT/UPDATE/DELETE/SELECT/...; 0 if not applicable).
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 1` or `SELECT 3`.
    public let commandTag: String
    let values: [String?]

    init(columns: [PostgresColumn], values: [String?], affectedRows: Int, commandTag: String) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    static let empty = PostgresRows(columns: [], values: [], affectedRows: 0, commandTag: "")

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : values.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        let width = columns.count
        return PostgresRow(columns: columns, values: values[(position * width)..<((position + 1) * width)])
    }
}
