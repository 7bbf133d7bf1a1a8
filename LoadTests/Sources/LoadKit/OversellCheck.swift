/// The oversell checks of an on-sale run, from the server's stats and what the clients received.
public enum OversellCheck {
    /// One ticket class as the admin stats report it.
    public struct ClassStock: Codable, Sendable, Equatable {
        /// Class id.
        public var id: String
        /// Tickets in the class.
        public var capacity: Int
        /// Tickets held by live reservations.
        public var held: Int
        /// Tickets sold (confirmed reservations).
        public var sold: Int

        /// A class.
        public init(id: String, capacity: Int, held: Int, sold: Int) {
            self.id = id
            self.capacity = capacity
            self.held = held
            self.sold = sold
        }
    }

    /// The outcome of one check.
    public struct Result: Codable, Sendable, Equatable {
        /// What was checked.
        public var name: String
        /// Whether it held.
        public var passed: Bool
        /// The numbers behind it.
        public var detail: String

        /// A result.
        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }
    }

    /// The checks: per class sold ≤ capacity and held + sold ≤ capacity; sold out (every class
    /// sold to capacity, nothing held); the tickets of completed orders the clients received, per
    /// class, equal to sold.
    public static func evaluate(classes: [ClassStock], clientTickets: [String: UInt64]) -> [Result] {
        var results: [Result] = []
        for c in classes {
            results.append(Result(name: "\(c.id): sold ≤ capacity, held + sold ≤ capacity",
                                  passed: c.sold <= c.capacity && c.held + c.sold <= c.capacity && c.held >= 0,
                                  detail: "capacity \(c.capacity), held \(c.held), sold \(c.sold)"))
        }
        let capacity = classes.reduce(0) { $0 + $1.capacity }
        let sold = classes.reduce(0) { $0 + $1.sold }
        let held = classes.reduce(0) { $0 + $1.held }
        results.append(Result(name: "sold out", passed: !classes.isEmpty && sold == capacity && held == 0,
                              detail: "\(sold) of \(capacity) sold, \(held) held"))
        let mismatched = classes.filter { UInt64(max($0.sold, 0)) != clientTickets[$0.id, default: 0] }.map(\.id)
        let received = clientTickets.values.reduce(0, +)
        let unknown = clientTickets.keys.filter { id in !classes.contains { $0.id == id } }.sorted()
        results.append(Result(name: "tickets the clients received = sold",
                              passed: mismatched.isEmpty && unknown.isEmpty,
                              detail: "\(received) received, \(sold) sold"
                                  + (mismatched.isEmpty ? "" : "; differ in \(mismatched.joined(separator: ", "))")
                                  + (unknown.isEmpty ? "" : "; unknown classes \(unknown.joined(separator: ", "))")))
        return results
    }
}
