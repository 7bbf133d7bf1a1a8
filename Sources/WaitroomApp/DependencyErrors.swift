import Edge
import Inventory
import NIOHTTP1
import Postgres
import Redis
import Waitroom

// The one place where errors of the lower layers become API errors. A dependency that is down,
// or that did not answer in time, is `503 dependency_unavailable` with `Retry-After`: a client
// retries, nothing hangs.

extension RedisError: HTTPErrorConvertible {
    public var httpError: HTTPError {
        if code.isServer {
            return HTTPError(.internalServerError, code: .internalError, message: "internal error")
        }
        return HTTPError(.serviceUnavailable, code: .dependencyUnavailable, message: "redis is unavailable",
                         headers: ["Retry-After": "2"])
    }
}

extension PostgresError: HTTPErrorConvertible {
    public var httpError: HTTPError {
        switch code {
        case .connection, .unavailable, .poolTimeout, .closed:
            return HTTPError(.serviceUnavailable, code: .dependencyUnavailable, message: "postgres is unavailable",
                             headers: ["Retry-After": "2"])
        default:
            if isLockTimeout || sqlState == "57014" {   // lock_timeout, statement_timeout: overloaded
                return HTTPError(.serviceUnavailable, code: "busy", message: "the database is busy; retry",
                                 headers: ["Retry-After": "1"])
            }
            return HTTPError(.internalServerError, code: .internalError, message: "internal error")
        }
    }
}

extension InventoryError: HTTPErrorConvertible {
    public var httpError: HTTPError {
        switch code {
        case .invalidEvent: return HTTPError(.unprocessableEntity, code: "invalid_event", message: message)
        case .eventNotFound: return HTTPError(.notFound, code: "event_not_found", message: message)
        case .capacityBelowCommitted: return HTTPError(.conflict, code: "capacity_below_committed", message: message)
        case .invalidItems: return HTTPError(.unprocessableEntity, code: "invalid_items", message: message)
        case .invalidPayment: return HTTPError(.unprocessableEntity, code: "invalid_payment", message: message)
        case .reservationNotFound: return HTTPError(.notFound, code: "reservation_not_found", message: message)
        default: return HTTPError(.internalServerError, code: .internalError, message: "internal error")
        }
    }
}

extension WaitroomError: HTTPErrorConvertible {
    public var httpError: HTTPError {
        switch code {
        case .notConfigured: return HTTPError(.notFound, code: "event_not_found", message: message)
        case .soldOut: return HTTPError(.gone, code: "sold_out", message: message)
        case .placeNotFound: return HTTPError(.notFound, code: "ticket_not_found", message: message)
        case .invalidSettings: return HTTPError(.unprocessableEntity, code: "invalid_admission", message: message)
        default: return HTTPError(.internalServerError, code: .internalError, message: "internal error")
        }
    }
}
