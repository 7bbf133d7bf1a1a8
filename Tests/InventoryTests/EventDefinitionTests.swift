import Foundation
import Testing
@testable import Inventory

@Suite struct EventDefinitionTests {
    @Test func demoIsValid() throws {
        try EventDefinition.demo.validate()
    }

    @Test func opensAtAtTheEdgesOfItsRangeIsValid() throws {
        var event = EventDefinition.demo
        event.opensAt = Date(timeIntervalSince1970: 0)
        try event.validate()
        event.opensAt = Date(timeIntervalSince1970: 253_402_300_799)   // 9999-12-31T23:59:59Z
        try event.validate()
        event.name = "Ünïcode – names are fine"
        try event.validate()
    }

    @Test(arguments: ["a", "A-z_09", String(repeating: "x", count: 64)])
    func validIDs(id: String) {
        #expect(EventDefinition.isValidID(id))
    }

    @Test(arguments: ["", String(repeating: "x", count: 65), "a b", "a/b", "é", "a.b", "../x", "a\u{0}"])
    func invalidIDs(id: String) {
        #expect(!EventDefinition.isValidID(id))
    }

    /// Each broken rule is refused with a message naming the field.
    @Test(arguments: [
        "id", "name", "ticketClasses", "ticketClasses[1].id", "ticketClasses[0].capacity",
        "ticketClasses[0].priceCents", "admission.ratePerSecond", "admission.ratePerSecond(nan)",
        "admission.maxActive", "admission.sessionSeconds",
        // Found by schemathesis / the malformed-request test: each was a 500 from PostgreSQL.
        "name(nul)", "ticketClasses[0].name(nul)", "opensAt(year 1)", "opensAt(1969)",
    ])
    func brokenRulesAreNamed(rule: String) {
        var event = EventDefinition.demo
        switch rule {
        case "id": event.id = "bad id"
        case "name": event.name = ""
        case "ticketClasses": event.ticketClasses = []
        case "ticketClasses[1].id": event.ticketClasses[1].id = "ga"
        case "ticketClasses[0].capacity": event.ticketClasses[0].capacity = -1
        case "ticketClasses[0].priceCents": event.ticketClasses[0].priceCents = -5
        case "admission.ratePerSecond": event.admission.ratePerSecond = 0
        case "admission.ratePerSecond(nan)": event.admission.ratePerSecond = .nan
        case "admission.maxActive": event.admission.maxActive = 0
        case "admission.sessionSeconds": event.admission.sessionSeconds = 1
        case "name(nul)": event.name = "a\u{0}b"
        case "ticketClasses[0].name(nul)": event.ticketClasses[0].name = "tab\there"
        case "opensAt(year 1)": event.opensAt = Date(timeIntervalSince1970: -62_135_596_800)
        case "opensAt(1969)": event.opensAt = Date(timeIntervalSince1970: -1)
        default: Issue.record("unknown rule \(rule)")
        }
        let field = rule.replacingOccurrences(of: #"\(.*\)"#, with: "", options: .regularExpression)
        do {
            try event.validate()
            Issue.record("accepted an event with a bad \(field)")
        } catch {
            #expect(error.code == .invalidEvent)
            #expect(error.message.hasPrefix(field), "message '\(error.message)' should name \(field)")
        }
    }
}
