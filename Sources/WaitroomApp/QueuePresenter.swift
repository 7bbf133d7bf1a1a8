import Edge
import Foundation
import Tokens
import Waitroom

/// How queue facts look on the wire: the contract's JSON bodies and SSE events.
enum QueuePresenter {
    /// The stream update for `order` given the tracker's `status`: a position (latest only), or
    /// `admitted` with a signed admission token (final), or nothing.
    /// `tickMicros`, when given, is the wall-clock time (unix µs) at which this process received
    /// the admission tick behind the update; it goes out as `ts` so clients (and the load tests)
    /// can measure the tick-to-client delay.
    static func streamUpdate(eventID: String, order: Int, status: OrderStatus, keyring: SigningKeyring,
                             tickMicros: Int64? = nil) -> SSEStreamUpdate? {
        switch status {
        case .waiting(let position, let eta):
            // A frame when the position changes; the ETA rides along (the contract's "whenever
            // the position changes"), so an ETA estimate that drifts sends nothing by itself.
            return .latest(SSEEvent(name: "position", data: positionJSON(position: position, eta: eta, ts: tickMicros),
                                    changeKey: position))
        case .admitted(let expiresAtMs):
            return .final(SSEEvent(name: "admitted", data: admissionJSON(eventID: eventID, order: order,
                                                                         expiresAtMs: expiresAtMs, keyring: keyring,
                                                                         ts: tickMicros)))
        case .departed, .unknown:
            return nil
        }
    }

    /// `{"position":…,"etaSeconds":…[,"ts":…]}`, written byte by byte into one allocation: it
    /// is made for every stream a tick sends to (string appends and `description`s of its numbers
    /// were 8 % of a worker's CPU in `bench-sse-nchan.sh`, sends included).
    static func positionJSON(position: Int, eta: Int?, ts: Int64? = nil) -> String {
        // 12 + 20 + 14 + 20 + 6 + 20 + 1 bytes at most.
        String(unsafeUninitializedCapacity: 96) { out in
            var at = 0
            func put(_ text: StaticString) {
                text.withUTF8Buffer { bytes in
                    for byte in bytes {
                        out[at] = byte
                        at += 1
                    }
                }
            }
            func put(_ value: Int64) { at = DecimalDigits.write(value, into: out, at: at) }
            put("{\"position\":")
            put(Int64(position))
            put(",\"etaSeconds\":")
            if let eta { put(Int64(eta)) } else { put("null") }
            if let ts {
                put(",\"ts\":")
                put(ts)
            }
            put("}")
            return at
        }
    }

    /// The admission token binds event and place (its order, which is the member of the active
    /// set) and expires with the admission.
    static func admissionToken(eventID: String, order: Int, expiresAtMs: Int64, keyring: SigningKeyring) -> String {
        SignedToken(purpose: .admission, eventID: eventID, sequence: UInt64(order),
                    expiresAt: UInt64(max(0, expiresAtMs / 1000))).encode(with: keyring)
    }

    /// `{"token":…,"expiresAt":…[,"ts":…]}`; `ts` (unix µs) is when this process saw the admission
    /// tick, so a client can measure how late its `admitted` event arrived.
    static func admissionJSON(eventID: String, order: Int, expiresAtMs: Int64, keyring: SigningKeyring,
                              ts: Int64? = nil) -> String {
        let token = admissionToken(eventID: eventID, order: order, expiresAtMs: expiresAtMs, keyring: keyring)
        let stamp = ts.map { ",\"ts\":\($0)" } ?? ""
        return "{\"token\":\"\(token)\",\"expiresAt\":\"\(rfc3339(milliseconds: expiresAtMs))\"\(stamp)}"
    }

    static func rfc3339(milliseconds: Int64) -> String {
        RFC3339.string(milliseconds: milliseconds)
    }

    /// The contract's state names.
    static func stateName(_ kind: PlaceState.Kind, soldOut: Bool) -> String {
        switch kind {
        case .waiting: return soldOut ? "sold_out" : "waiting"
        case .admitted: return "admitted"
        case .left, .done: return "left"
        case .abandoned, .expired: return "expired"
        }
    }
}
