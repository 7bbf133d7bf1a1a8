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

    @Test func spacesQuotesAndCase() {
        let t = ServerTiming(" lock ; DUR=1.5 ;desc=\"waited\" ,\tbatch;desc=\"3\";dur=0.25,,")
        #expect(t.durations == ["lock": 1.5, "batch": 0.25])
        #expect(t.descriptions == ["lock": "waited", "batch": "3"])
    }
}
