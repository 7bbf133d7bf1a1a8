import Testing
@testable import LoadKit

@Suite struct PlanningTests {
    @Test func urlTemplateExpandsPlaceholders() throws {
        let t = try URLTemplate("http://127.0.0.1:8080/v1/events/{event}/queue/{ticket}/stream")
        #expect(t.host == "127.0.0.1")
        #expect(t.port == 8080)
        #expect(t.path(["event": "e1", "ticket": "T"]) == "/v1/events/e1/queue/T/stream")
        #expect(t.path(["event": "e1"]) == "/v1/events/e1/queue/{ticket}/stream")
        #expect(t.hostHeader == "127.0.0.1:8080")
    }

    @Test func urlTemplateRefusesNonLoopback() {
        #expect(throws: URLTemplate.ParseError.self) { try URLTemplate("http://10.0.0.1:80/x") }
        #expect(throws: URLTemplate.ParseError.self) { try URLTemplate("http://localhost:80/x") }
        #expect(throws: URLTemplate.ParseError.self) { try URLTemplate("https://127.0.0.1/x") }
        #expect((try? URLTemplate("http://127.9.0.1/sub/c"))?.port == 80)
    }

    @Test func sourceAddressesSpreadEvenly() {
        let pool = SourceAddressPool(count: 4)
        #expect(pool.addresses == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"])
        var counts: [String: Int] = [:]
        for w in 0..<8 { for i in 0..<100 { counts[pool.address(connection: i, worker: w, workers: 8), default: 0] += 1 } }
        #expect(counts.values.allSatisfy { $0 == 200 })
    }

    @Test func rampAndShares() {
        let ramp = RampSchedule(target: 100, ratePerSecond: 10)
        #expect(ramp.due(after: 0) == 1)
        #expect(ramp.due(after: 1.05) == 11)
        #expect(ramp.due(after: 100) == 100)
        #expect(RampSchedule(target: 7, ratePerSecond: 0).due(after: 0) == 7)
        let shares = (0..<8).map { RampSchedule.share(of: 100_003, workers: 8, index: $0) }
        #expect(shares.reduce(0, +) == 100_003)
        #expect(shares.max()! - shares.min()! <= 1)
    }

    @Test func lineSplitterHandlesChunks() {
        var s = LineSplitter()
        #expect(s.append(Array("{\"a\":".utf8)).isEmpty)
        #expect(s.append(Array("1}\r\n{\"b\"".utf8)) == ["{\"a\":1}"])
        #expect(s.append(Array(":2}\n\n".utf8)) == ["{\"b\":2}", ""])
        #expect(s.remainder == nil)
    }

    @Test func tableRenders() {
        var t = ResultTable(columns: ["target", "events/s"])
        t.append(["nchan", "20000.0"])
        #expect(t.render() == "target | events/s\n-------+---------\nnchan  |  20000.0")
        #expect(ResultTable.milliseconds(1234) == "1.23")
        #expect(ResultTable.milliseconds(5) == "0.01")
        #expect(ResultTable.milliseconds(nil) == "-")
    }
}
