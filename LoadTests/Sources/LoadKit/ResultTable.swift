/// A plain text table with right-aligned numeric columns, as the house benchmark scripts print.
public struct ResultTable: Sendable {
    /// Column titles.
    public var columns: [String]
    /// Rows of cells.
    public var rows: [[String]] = []

    /// A table with the given columns.
    public init(columns: [String]) { self.columns = columns }

    /// Appends a row (missing cells are blank).
    public mutating func append(_ cells: [String]) { self.rows.append(cells) }

    /// The rendered table, `|`-separated, a rule under the header.
    public func render() -> String {
        var widths = self.columns.map(\.count)
        for row in self.rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            widths.indices.map { i in
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: " | ")
        }
        var out = [line(self.columns), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")]
        out += self.rows.map(line)
        return out.joined(separator: "\n")
    }

    /// A microsecond latency as milliseconds with two decimals (`"12.34"`), or `"-"` without samples.
    public static func milliseconds(_ microseconds: UInt64?) -> String {
        guard let microseconds else { return "-" }
        let hundredths = (microseconds + 5) / 10
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// A rate with one decimal.
    public static func rate(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }
}
