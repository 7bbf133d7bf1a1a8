/// One result row. Values are held in text format and decoded on access.
public struct PostgresRow: Sendable {
    /// The result's columns (shared by all rows of a result).
    public let columns: [PostgresColumn]
    let values: ArraySlice<String?>

    /// Number of columns.
    public var count: Int { columns.count }

    /// The raw text value at `index` (`nil` = NULL).
    public subscript(index: Int) -> String? {
        values[values.startIndex + index]
    }

    /// The raw text value of the column named `name` (`nil` = NULL or no such column).
    public subscript(name: String) -> String? {
        guard let index = columnIndex(name) else { return nil }
        return self[index]
    }

    /// True when the value at `index` is NULL.
    public func isNull(at index: Int) -> Bool { self[index] == nil }

    /// The index of the first column named `name`.
    public func columnIndex(_ name: String) -> Int? {
        columns.firstIndex { $0.name == name }
    }

    /// Decodes the value at `index`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard index >= 0, index < columns.count else {
            throw PostgresError(code: .decoding, message: "column index \(index) out of range (\(columns.count) columns)")
        }
        do {
            return try T.decode(postgresText: self[index])
        } catch var error as PostgresError {
            error.message += " (column \(index) '\(columns[index].name)')"
            throw error
        }
    }

    /// Decodes the value of the column named `name`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let index = columnIndex(name) else {
            throw PostgresError(code: .decoding, message: "no column named '\(name)'")
        }
        return try decode(type, at: index)
    }
}
