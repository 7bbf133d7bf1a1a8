/// A line chart as a self-contained SVG element: axes with round ticks, one polyline per series,
/// dashed horizontal reference lines (e.g. a configured rate) and a legend. No scripts, no styles
/// from outside: it renders the same in any browser or when saved on its own.
public struct SVGChart: Sendable {
    /// One line of the chart.
    public struct Series: Sendable {
        /// Legend text.
        public var name: String
        /// CSS colour.
        public var color: String
        /// `(x, y)` points in x order.
        public var points: [(x: Double, y: Double)]

        /// A series.
        public init(name: String, color: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    /// A horizontal dashed line at `y`.
    public struct Reference: Sendable {
        /// Legend text.
        public var name: String
        /// CSS colour.
        public var color: String
        /// Its height in data units.
        public var y: Double

        /// A reference line.
        public init(name: String, color: String, y: Double) {
            self.name = name
            self.color = color
            self.y = y
        }
    }

    /// Heading inside the chart.
    public var title: String
    /// Label of the x axis.
    public var xLabel: String
    /// Label of the y axis.
    public var yLabel: String
    /// The lines.
    public var series: [Series]
    /// The reference lines.
    public var references: [Reference]
    /// Size in pixels.
    public var width: Double = 760
    /// Size in pixels.
    public var height: Double = 280

    private let left = 64.0, right = 16.0, top = 34.0, bottom = 58.0

    /// A chart.
    public init(title: String, xLabel: String, yLabel: String, series: [Series], references: [Reference] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.references = references
    }

    /// Round tick values covering `0...max` (about `count` of them): steps of 1, 2 or 5 × 10ⁿ.
    public static func ticks(upTo max: Double, count: Int = 5) -> [Double] {
        guard max > 0, max.isFinite else { return [0, 1] }
        let raw = max / Double(Swift.max(count, 1))
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var ticks: [Double] = []
        var v = 0.0
        while v < max + step * 0.999 {
            ticks.append(v)
            v += step
        }
        return ticks
    }

    /// The `<svg>` element.
    public func render() -> String {
        let xs = self.series.flatMap { $0.points.map(\.x) }
        let ys = self.series.flatMap { $0.points.map(\.y) } + self.references.map(\.y)
        // Times count from the start of the run: the axis starts at 0 unless data lies before it.
        let xMin = Swift.min(xs.min() ?? 0, 0)
        let xTicks = Self.ticks(upTo: Swift.max((xs.max() ?? 1) - xMin, 1), count: 8).map { $0 + xMin }
        let yTicks = Self.ticks(upTo: Swift.max(ys.max() ?? 1, 1e-9))
        let xMax = xTicks.last!, yMax = yTicks.last!
        let plotW = self.width - self.left - self.right, plotH = self.height - self.top - self.bottom
        func px(_ x: Double) -> Double { self.left + (x - xMin) / Swift.max(xMax - xMin, 1e-9) * plotW }
        func py(_ y: Double) -> Double { self.top + plotH - y / Swift.max(yMax, 1e-9) * plotH }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.n(self.width))\" height=\"\(Self.n(self.height))\" "
            + "viewBox=\"0 0 \(Self.n(self.width)) \(Self.n(self.height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        out += "<text x=\"\(Self.n(self.left))\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(Self.escape(self.title))</text>\n"
        for t in yTicks {
            let y = Self.n(py(t))
            out += "<line x1=\"\(Self.n(self.left))\" x2=\"\(Self.n(self.left + plotW))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>"
            out += "<text x=\"\(Self.n(self.left - 6))\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(Self.label(t))</text>\n"
        }
        for t in xTicks {
            let x = Self.n(px(t))
            out += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(Self.n(self.top + plotH))\" y2=\"\(Self.n(self.top + plotH + 4))\" stroke=\"#333\"/>"
            out += "<text x=\"\(x)\" y=\"\(Self.n(self.top + plotH + 16))\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        out += "<line x1=\"\(Self.n(self.left))\" x2=\"\(Self.n(self.left + plotW))\" y1=\"\(Self.n(self.top + plotH))\" "
            + "y2=\"\(Self.n(self.top + plotH))\" stroke=\"#333\"/>"
        out += "<line x1=\"\(Self.n(self.left))\" x2=\"\(Self.n(self.left))\" y1=\"\(Self.n(self.top))\" y2=\"\(Self.n(self.top + plotH))\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(Self.n(self.left + plotW / 2))\" y=\"\(Self.n(self.top + plotH + 32))\" text-anchor=\"middle\">\(Self.escape(self.xLabel))</text>\n"
        out += "<text transform=\"translate(14 \(Self.n(self.top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(self.yLabel))</text>\n"
        for r in self.references {
            let y = Self.n(py(r.y))
            out += "<line x1=\"\(Self.n(self.left))\" x2=\"\(Self.n(self.left + plotW))\" y1=\"\(y)\" y2=\"\(y)\" "
                + "stroke=\"\(Self.escape(r.color))\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        }
        for s in self.series where !s.points.isEmpty {
            let points = s.points.map { "\(Self.n(px($0.x))),\(Self.n(py($0.y)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(Self.escape(s.color))\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
        }
        // Legend under the x label, left to right.
        var x = self.left
        let y = self.height - 10
        let entries = self.series.map { ($0.name, $0.color, false) } + self.references.map { ($0.name, $0.color, true) }
        for (name, color, dashed) in entries {
            out += "<line x1=\"\(Self.n(x))\" x2=\"\(Self.n(x + 18))\" y1=\"\(Self.n(y - 4))\" y2=\"\(Self.n(y - 4))\" stroke=\"\(Self.escape(color))\" "
                + "stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")/>"
            out += "<text x=\"\(Self.n(x + 22))\" y=\"\(Self.n(y))\">\(Self.escape(name))</text>\n"
            x += 34 + Double(name.count) * 6.2
        }
        out += "</svg>"
        return out
    }

    /// `&`, `<`, `>` and `"` as entities (for text and attribute values).
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with at most one decimal.
    static func n(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(tenths / 10)
    }

    /// A tick label: integers plainly, thousands as `k`, small values with their decimals.
    static func label(_ v: Double) -> String {
        if v >= 10_000, v.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int(v / 1000))k" }
        if v == v.rounded() { return String(Int(v)) }
        return String((v * 1000).rounded() / 1000)
    }
}
