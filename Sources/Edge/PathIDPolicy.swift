/// Which `{name}` parameters of a route are ids that must match `[A-Za-z0-9_-]{1,64}`
/// (else `400 invalid_id`).
public enum PathIDPolicy: Sendable, Hashable {
    /// Every parameter is an id (the default).
    case all
    /// No parameter is validated.
    case none
    /// Only the named parameters are ids.
    case only(Set<String>)

    func isID(_ name: String) -> Bool {
        switch self {
        case .all: return true
        case .none: return false
        case .only(let names): return names.contains(name)
        }
    }
}
