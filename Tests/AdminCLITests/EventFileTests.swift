import Foundation
import Inventory
import Testing
import WaitroomApp
@testable import AdminCLI

@Suite("Event files: YAML and JSON to the PUT body, checked locally") struct EventFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let yaml = """
        id: spring
        name: Spring tour
        opensAt: 2027-03-01T18:00:00Z
        ticketClasses:
          - id: ga
            name: General
            capacity: 1_000
            priceCents: 5000
          - {id: box, name: Box, capacity: 4, priceCents: 20000, seating: [{row: A, seats: 4}]}
        admission:
          ratePerSecond: 2.5
          maxActive: 50
          sessionSeconds: 300
        """

    static let json = """
        {"id": "spring", "name": "Spring tour", "opensAt": "2027-03-01T18:00:00Z",
         "ticketClasses": [{"id": "ga", "name": "General", "capacity": 1000, "priceCents": 5000},
                           {"id": "box", "name": "Box", "capacity": 4, "priceCents": 20000, "seating": [{"row": "A", "seats": 4}]}],
         "admission": {"ratePerSecond": 2.5, "maxActive": 50, "sessionSeconds": 300}}
        """

    private func failure(_ text: String, _ format: EventFile.Format = .yaml, event: String? = nil) -> AdminError? {
        do {
            _ = try EventFile.parse(text, format: format, eventID: event)
            return nil
        } catch {
            return error
        }
    }

    @Test func theDemoFileIsTheDemoEvent() throws {
        let path = Self.root.appendingPathComponent("deploy/events/demo.yaml").path
        let file = try EventFile.load(path: path, eventID: nil)
        #expect(file.eventID == "demo")
        #expect(file.definition == EventDefinition.demo)
    }

    @Test func theJSONExampleLoads() throws {
        let file = try EventFile.load(path: Self.root.appendingPathComponent("deploy/events/spring-tour.json").path, eventID: nil)
        #expect(file.eventID == "spring-tour")
        #expect(file.definition.opensAt == Date(timeIntervalSince1970: 1_803_924_000))
        #expect(file.body.ticketClasses.map(\.capacity) == [20_000, 1_500])
    }

    @Test func yamlAndJSONGiveTheSameRequest() throws {
        let fromYAML = try EventFile.parse(Self.yaml, format: .yaml, eventID: nil)
        let fromJSON = try EventFile.parse(Self.json, format: .json, eventID: nil)
        #expect(fromYAML == fromJSON)
        #expect(fromYAML.body.opensAt == "2027-03-01T18:00:00Z")
        #expect(fromYAML.body.admission.ratePerSecond == 2.5)
        #expect(fromYAML.body.ticketClasses[1].seating == [EventDefinition.SeatRow(row: "A", seats: 4)])
        #expect(fromYAML.definition.ticketClasses[1].seatIDs == ["A-1", "A-2", "A-3", "A-4"])
        // The body sent is the contract's: no `id` (the path names the event), the fields as given.
        let sent = try JSONSerialization.jsonObject(with: JSONEncoder().encode(fromYAML.body)) as? [String: Any]
        #expect(Set(sent?.keys.map { $0 } ?? []) == ["name", "opensAt", "ticketClasses", "admission"])
    }

    @Test func theEventOptionWinsOverTheFilesID() throws {
        #expect(try EventFile.parse(Self.yaml, format: .yaml, eventID: "autumn").eventID == "autumn")
        let noID = Self.yaml.replacingOccurrences(of: "id: spring\n", with: "")
        #expect(try EventFile.parse(noID, format: .yaml, eventID: "autumn").eventID == "autumn")
        #expect(failure(noID)?.message == "no event id: put `id: <event>` in the file or pass --event ID")
        #expect(failure(Self.yaml, event: "bad id")?.message == "event id 'bad id' must match [A-Za-z0-9_-]{1,64}")
    }

    @Test func mistakesAreNamedByTheirField() {
        #expect(failure(Self.yaml.replacingOccurrences(of: "priceCents: 5000", with: "price: 5000"))?.message
                == "unknown field 'ticketClasses[0].price'")
        #expect(failure(Self.yaml.replacingOccurrences(of: "opensAt:", with: "opens_at:"))?.message == "unknown field 'opens_at'")
        #expect(failure(Self.json.replacingOccurrences(of: "\"maxActive\": 50, ", with: ""), .json)?.message
                == "missing field 'admission.maxActive'")
        #expect(failure(Self.yaml.replacingOccurrences(of: "capacity: 1_000", with: "capacity: lots"))?.message
                == "field 'ticketClasses[0].capacity' must be a whole number")
        #expect(failure(Self.json.replacingOccurrences(of: "\"name\": \"Spring tour\"", with: "\"name\": 5"), .json)?.message
                == "field 'name' must be a string")
        #expect(failure("- just\n- a list\n")?.message == "the file must hold one mapping (name, ticketClasses, admission, …)")
        #expect(failure("name: [unclosed\n")?.message.hasPrefix("not valid YAML") == true)
        #expect(failure("{\"name\": ", .json)?.message.hasPrefix("not valid JSON") == true)
        #expect(failure("{\"name\": ", .json)?.exitCode == 2)
    }

    @Test func theServersRulesApplyBeforeSending() {
        #expect(failure(Self.yaml.replacingOccurrences(of: "sessionSeconds: 300", with: "sessionSeconds: 5"))?.message
                == "admission.sessionSeconds must be in 10...86400")
        #expect(failure(Self.yaml.replacingOccurrences(of: "id: box", with: "id: ga"))?.message
                == "ticketClasses[1].id 'ga' is repeated")
        #expect(failure(Self.yaml.replacingOccurrences(of: "capacity: 4,", with: "capacity: 5,"))?.message
                == "ticketClasses[1].capacity must equal its number of seats (4)")
        #expect(failure(Self.yaml.replacingOccurrences(of: "2027-03-01T18:00:00Z", with: "next friday"))?.message
                == "opensAt must be an RFC 3339 time, e.g. 2026-12-01T18:00:00Z")
    }

    @Test func aFileNamesItsPathInErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("event-\(UUID().uuidString).yml").path
        try Self.yaml.replacingOccurrences(of: "maxActive: 50", with: "maxActive: 0").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: AdminError(.invalidFile, "\(path): admission.maxActive must be in 1...10000000")) {
            try EventFile.load(path: path, eventID: nil)
        }
        #expect(throws: AdminError.self) { try EventFile.load(path: path + ".missing", eventID: nil) }
    }

    @Test func formatByExtensionElseByContent() {
        #expect(EventFile.format(path: "a.json", text: "") == .json)
        #expect(EventFile.format(path: "a.YML", text: "{") == .yaml)
        #expect(EventFile.format(path: "-", text: "  {\"name\": 1}") == .json)
        #expect(EventFile.format(path: "event", text: "name: x") == .yaml)
    }

    @Test func getAsYAMLAppliesBackToTheSameEvent() throws {
        var event = EventDefinition.demo
        event.opensAt = Date(timeIntervalSince1970: 1_803_924_000)
        let text = try EventFile.yaml(event)
        #expect(text.hasPrefix("id: demo\nname: Waitroom demo on-sale\nopensAt: "))
        #expect(text.contains("\n  ratePerSecond: 5.0\n  maxActive: 200\n"))
        #expect(try EventFile.parse(text, format: .yaml, eventID: nil).definition == event)
        event.admission.ratePerSecond = 0.25
        let fractional = try EventFile.yaml(event)
        #expect(fractional.contains("\n  ratePerSecond: 0.25\n"))
        #expect(try EventFile.parse(fractional, format: .yaml, eventID: nil).definition == event)
    }
}
