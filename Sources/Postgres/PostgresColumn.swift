/// A result column: its name and the OID of its type.
public struct PostgresColumn: Sendable, Hashable {
    /// The column name (or alias) as the server reports it.
    public var name: String
    /// The type OID (e.g. 23 int4, 25 text, 1184 timestamptz).
    public var typeOID: UInt32
}
