import Testing
@testable import LoadKit

@Suite struct SSEFrameParserTests {
    @Test func parsesAWholeStream() {
        var parser = SSEFrameParser()
        let stream = "retry: 2000\n\nid: 1\nevent: position\ndata: {\"position\": 12, \"etaSeconds\": 3}\n\n: keepalive\n\nid: 2\nevent: admitted\ndata: {\"token\": \"t\"}\n\n"
        let events = parser.feed(Array(stream.utf8))
        #expect(events.map(\.type) == ["position", "admitted"])
        #expect(events.map(\.id) == ["1", "2"])
        #expect(events[0].dataString == "{\"position\": 12, \"etaSeconds\": 3}")
        #expect(parser.comments == 1)
        #expect(parser.retryMilliseconds == 2000)
    }

    @Test func frameWithoutEventIsAMessageAndMultilineDataJoins() {
        var parser = SSEFrameParser()
        let events = parser.feed(Array("data: a\ndata:b\n\n".utf8))
        #expect(events == [SSEEvent(type: "message", id: nil, data: Array("a\nb".utf8))])
    }

    @Test(arguments: [1, 2, 3, 5, 7, 13])
    func framesSplitAnywhereGiveTheSameEvents(chunkSize: Int) {
        let stream = Array("id: 7\r\nevent: position\r\ndata: {\"ts\":42}\r\n\r\n:c\r\nid: 8\rdata: x\r\r".utf8)
        var whole = SSEFrameParser()
        let expected = whole.feed(stream)
        #expect(expected.count == 2)
        var parser = SSEFrameParser()
        var events: [SSEEvent] = []
        var index = 0
        while index < stream.count {
            let end = min(index + chunkSize, stream.count)
            events += parser.feed(stream[index..<end])
            index = end
        }
        #expect(events == expected)
        #expect(events[1] == SSEEvent(type: "message", id: "8", data: Array("x".utf8)))
        #expect(parser.comments == 1)
    }

    @Test func crlfSplitBetweenCRAndLFIsOneLineEnd() {
        var parser = SSEFrameParser()
        var events = parser.feed(Array("data: a\r".utf8))
        events += parser.feed(Array("\n\r".utf8))
        events += parser.feed(Array("\n".utf8))
        #expect(events.count == 1)
        #expect(events.first?.dataString == "a")
    }

    @Test func idIsStickyAndEventTypeIsNot() {
        var parser = SSEFrameParser()
        let events = parser.feed(Array("id: 5\nevent: paused\ndata: {}\n\ndata: z\n\n".utf8))
        #expect(events.map(\.type) == ["paused", "message"])
        #expect(events.map(\.id) == ["5", "5"])
    }

    @Test func frameWithoutDataIsNotDispatched() {
        var parser = SSEFrameParser()
        #expect(parser.feed(Array("event: position\n\nid: 3\n\n".utf8)).isEmpty)
        #expect(parser.lastEventID == "3")
    }
}
