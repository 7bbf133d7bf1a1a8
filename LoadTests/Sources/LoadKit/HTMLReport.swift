/// A self-contained HTML page of a load run: headings, tables, pass/fail checks and inline SVG
/// charts. No scripts and no external resources.
public struct HTMLReport: Sendable {
    private var body = ""
    /// The page title.
    public var title: String

    /// An empty report.
    public init(title: String) { self.title = title }

    /// Adds a heading.
    public mutating func heading(_ text: String) { self.body += "<h2>\(SVGChart.escape(text))</h2>\n" }

    /// Adds a paragraph.
    public mutating func paragraph(_ text: String) { self.body += "<p>\(SVGChart.escape(text))</p>\n" }

    /// Adds preformatted text (e.g. a command's output).
    public mutating func preformatted(_ text: String) { self.body += "<pre>\(SVGChart.escape(text))</pre>\n" }

    /// Adds a table; cells after the first column are right-aligned.
    public mutating func table(columns: [String], rows: [[String]]) {
        self.body += "<table>\n<tr>" + columns.map { "<th>\(SVGChart.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            self.body += "<tr>" + row.enumerated().map { i, cell in
                "<td\(i == 0 ? "" : " class=\"n\"")>\(SVGChart.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        self.body += "</table>\n"
    }

    /// Adds a list of checks, each marked pass or FAIL.
    public mutating func checks(_ results: [OversellCheck.Result]) {
        self.body += "<ul class=\"checks\">\n"
        for r in results {
            self.body += "<li class=\"\(r.passed ? "pass" : "fail")\">\(r.passed ? "pass" : "FAIL") — "
                + "\(SVGChart.escape(r.name)): \(SVGChart.escape(r.detail))</li>\n"
        }
        self.body += "</ul>\n"
    }

    /// Adds a chart.
    public mutating func chart(_ chart: SVGChart) { self.body += "<figure>\(chart.render())</figure>\n" }

    /// The whole page.
    public func render() -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(SVGChart.escape(self.title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; max-width: 900px; }
        table { border-collapse: collapse; margin: 8px 0 16px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; }
        th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        ul.checks { list-style: none; padding: 0; } li.pass { color: #17692c; } li.fail { color: #b00020; font-weight: bold; }
        figure { margin: 8px 0 20px; }
        </style></head><body>
        <h1>\(SVGChart.escape(self.title))</h1>
        \(self.body)</body></html>

        """
    }
}
