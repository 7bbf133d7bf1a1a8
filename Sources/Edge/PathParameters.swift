/// The values of a matched route's `{name}` segments.
public struct PathParameters: Sendable, Equatable {
    /// The `(name, value)` pairs in pattern order.
    public private(set) var pairs: [(name: String, value: String)]

    /// Creates parameters from `(name, value)` pairs.
    public init(_ pairs: [(name: String, value: String)] = []) {
        self.pairs = pairs
    }

    /// The value of `name`, or `nil` if the route has no such parameter.
    public subscript(_ name: String) -> String? {
        for pair in self.pairs where pair.name == name {
            return pair.value
        }
        return nil
    }

    /// The value of `name`, or a `500 internal_error` (a handler asked for a parameter its
    /// route does not declare: a programming error).
    public func require(_ name: String) throws -> String {
        guard let value = self[name] else { throw HTTPError.internalError }
        return value
    }

    /// Number of parameters.
    public var count: Int { self.pairs.count }

    /// Equal when names and values are equal, in order.
    public static func == (lhs: PathParameters, rhs: PathParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }
}
