/// Reads a `Server-Timing` header (`lock;dur=0.52, batch;desc="12"`): metric name → `dur`
/// in milliseconds, and name → `desc`.
public struct ServerTiming: Sendable, Equatable {
    public var durations: [String: Double] = [:]
    public var descriptions: [String: String] = [:]

    public init(_ header: String) {
        for metric in header.split(separator: ",") {
            let parts = metric.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let name = parts.first, !name.isEmpty else { continue }
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                switch pair[0].lowercased() {
                case "dur": if let v = Double(pair[1]) { durations[name] = v }
                case "desc": descriptions[name] = pair[1].trimmingCharacters(in: "\"")
                default: break
                }
            }
        }
    }
}

private extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
