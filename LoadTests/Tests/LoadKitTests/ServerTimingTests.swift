import LoadKit
import Testing

@Suite struct ServerTimingTests {
    @Test func readsDurationsAndDescriptions() {
        let t = ServerTiming(#"lock;dur=0.523, batch;desc="12", db;dur=3"#)
        #expect(t.durations == ["lock": 0.523, "db": 3])
        #expect(t.descriptions == ["batch": "12"])
    }

    @Test func ignoresWhatItCannotRead() {
        let t = ServerTiming("lock;dur=abc, ;dur=1, x;weird, y;DUR=2")
        #expect(t.durations == ["y": 2])
        #expect(ServerTiming("").durations.isEmpty)
    }
}
