import FastJSON
import Foundation
import Testing
@testable import Inventory

/// The hand-written JSON of the batch path says what the `Codable` types said.
@Suite struct InventoryJSONTests {
    static let operations: [InventoryOperation] = [
        .init(op: .reserve, holder: 42, key: "key \"1\"\n", hash: "abc", id: "r_x", items: [.init(c: "ga", q: 2), .init(c: "vip", q: 1)]),
        .init(op: .release, holder: -7, reservation: "r_y"),
        .init(op: .confirm, holder: 9, key: "k", hash: "h", reservation: "r_z", orderId: "o_1",
              payment: .init(method: "card", simulate: "decline")),
        .init(op: .confirm, holder: 9, key: "k2", hash: "h", reservation: "r_z", orderId: "o_2", payment: .init(method: "card")),
    ]

    @Test func operationsMatchJSONEncoder() throws {
        let ours = try JSONValue.parse(InventoryOperation.jsonArray(Self.operations))
        let encoder = try JSONValue.parse(Array(JSONEncoder().encode(Self.operations)))
        #expect(Self.sorted(ours) == Self.sorted(encoder))
        #expect(try JSONValue.parse(InventoryOperation.jsonArray([])) == .array([]))
    }

    @Test func outcomesMatchJSONDecoder() throws {
        let texts = [
            #"{"status": 201, "body": {"reservationId": "r_1", "status": "held", "expiresAt": "2026-11-27T10:00:00.000Z", "items": [{"ticketClassId": "ga", "quantity": 2}, {"ticketClassId": "s", "quantity": 1, "seats": ["A-1"]}]}}"#,
            #"{"status": 409, "error": "insufficient_inventory", "message": "only 3 left", "replayed": true}"#,
            #"{"status": 202, "body": {"orderId": "o_1", "status": "pending"}, "unknown": [1, 2]}"#,
            #"{"status": 204, "body": null, "lockWaitMicros": 12, "batchSize": 3, "lockedClassesExhausted": false}"#,
        ]
        for text in texts {
            let ours = try InventoryOutcome(json: JSONValue.parse(text))
            let decoder = try JSONDecoder().decode(InventoryOutcome.self, from: Data(text.utf8))
            #expect(ours == decoder, "\(text)")
        }
    }

    @Test func malformedOutcomesAreErrors() {
        for text in [#"{"body": {}}"#, #"{"status": "201"}"#, #"{"status": 201, "error": 5}"#,
                     #"{"status": 201, "body": {"items": [{"ticketClassId": "ga"}]}}"#, #"[]"#] {
            #expect(throws: InventoryError.self, "\(text)") { try InventoryOutcome(json: JSONValue.parse(text)) }
        }
    }

    @Test func bodyMatchesJSONEncoder() throws {
        let bodies: [InventoryOutcome.Body] = [
            .init(reservationId: "r_1", status: "held", expiresAt: "2026-11-27T10:00:00.000Z",
                  items: [.init(ticketClassId: "ga", quantity: 2, seats: nil), .init(ticketClassId: "s", quantity: 1, seats: ["A-1", "A\"2"])]),
            .init(orderId: "o_1", status: "pending"),
            .init(),
        ]
        for body in bodies {
            let ours = try JSONValue.parse(InventoryOutcome.bodyJSON(body))
            let encoder = try JSONValue.parse(Array(JSONEncoder().encode(body)))
            #expect(Self.sorted(ours) == Self.sorted(encoder))
        }
    }

    @Test func batchReply() throws {
        let reply = try ReservationService.BatchReply(text: #"{"lockWaitMicros": 250, "results": [{"status": 204}], "classes": [{"id": "ga", "capacity": 10, "held": 0, "sold": 10}]}"#)
        #expect(reply.lockWaitMicros == 250)
        #expect(reply.results == [InventoryOutcome(status: 204)])
        #expect(reply.classes.count == 1 && reply.classes[0].isExhausted)
        #expect(throws: InventoryError.self) { try ReservationService.BatchReply(text: #"{"results": []}"#) }
        #expect(throws: InventoryError.self) { try ReservationService.BatchReply(text: "not json") }
    }

    /// Objects with their members sorted by name (JSONEncoder's order is not fixed on Linux).
    static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let elements): return .array(elements.map(sorted))
        case .object(let members): return .object(members.map { ($0.key, sorted($0.value)) }.sorted { $0.0 < $1.0 })
        default: return value
        }
    }
}
